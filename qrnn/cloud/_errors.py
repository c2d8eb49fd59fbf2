"""The errors of ``qrnn.cloud``: each names the bad value and what to do about it."""

from __future__ import annotations

__all__ = [
    "CloudError",
    "CredentialsError",
    "JobFailedError",
    "MissingExtraError",
    "StoreCorruptError",
    "StoreError",
    "StoreLockedError",
    "StoreMissingError",
    "StoreVersionError",
    "SubmitInputError",
    "TransientError",
    "UnknownBackendError",
    "UnknownJobError",
    "UnknownProviderError",
]


class CloudError(Exception):
    """Base class of every error ``qrnn.cloud`` raises on purpose."""


class StoreError(CloudError):
    """The job store cannot be used as it is; nothing was written."""


class StoreMissingError(StoreError):
    """There is no job store where one was expected."""


class StoreCorruptError(StoreError):
    """The store's file is not a readable qrnn job store (qrnn never overwrites it)."""


class StoreLockedError(StoreError):
    """Another process held the store's write lock for longer than the wait allowed."""


class StoreVersionError(StoreError):
    """The store was written by a newer qrnn, whose schema this version does not know."""


class UnknownJobError(CloudError, LookupError):
    """No job in the store has this id (or the prefix matches several)."""


class UnknownProviderError(CloudError, ValueError):
    """A provider name that qrnn does not know."""


class UnknownBackendError(CloudError, ValueError):
    """A backend name that the provider does not offer."""


class MissingExtraError(CloudError, ImportError):
    """The provider's SDK is not installed; the message gives the pip command."""


class CredentialsError(CloudError):
    """The provider's SDK found no credentials; the message says what sets them."""


class SubmitInputError(CloudError, ValueError):
    """A submission the backend cannot run (too wide, too many shots, ...), refused before
    anything is sent."""


class TransientError(CloudError):
    """A poll or fetch failed in a way worth retrying (HTTP 429 or 5xx, a timeout) and kept
    failing for every retry."""


class JobFailedError(CloudError):
    """The vendor reports the job failed or was cancelled; there is no result to fetch."""
