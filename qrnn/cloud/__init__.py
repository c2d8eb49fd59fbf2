"""Public quantum clouds: IBM Quantum, IonQ and Amazon Braket, and the job store.

Every submission is recorded in a local SQLite store (:mod:`qrnn.cloud.jobs`) before it is
sent, so nothing is lost and nothing is submitted twice.
"""

from qrnn.cloud._errors import (
    CloudError,
    CredentialsError,
    JobFailedError,
    MissingExtraError,
    StoreCorruptError,
    StoreError,
    StoreLockedError,
    StoreMissingError,
    StoreVersionError,
    SubmitInputError,
    TransientError,
    UnknownBackendError,
    UnknownJobError,
    UnknownProviderError,
)
from qrnn.cloud.jobs import Job, JobStore

__all__ = [
    "CloudError",
    "CredentialsError",
    "Job",
    "JobFailedError",
    "JobStore",
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
