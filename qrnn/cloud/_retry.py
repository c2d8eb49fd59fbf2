"""Retries with exponential backoff for the calls that may be repeated safely: polls and
result fetches. A submit is never retried: a repeated submit is how a job gets created twice.
"""

from __future__ import annotations

import logging
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from qrnn.cloud._errors import TransientError

__all__ = ["RetryPolicy", "Retryable", "is_transient", "retry"]

_log = logging.getLogger("qrnn.cloud")
T = TypeVar("T")


class Retryable(Exception):
    """A provider's mark on a vendor error that its SDK classes as retriable (HTTP 429/5xx,
    a dropped connection), with the HTTP status when there is one."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` tries, waiting ``first_delay * 2**k`` seconds (at most ``max_delay``,
    jittered down by up to half) after the k-th failure."""

    attempts: int = 6
    first_delay: float = 1.0
    max_delay: float = 30.0
    sleep: Callable[[float], None] = time.sleep


DEFAULT = RetryPolicy()


def _status_code(error: BaseException) -> int | None:
    for holder in (error, getattr(error, "response", None)):
        for name in ("status_code", "status"):
            code = getattr(holder, name, None)
            if isinstance(code, int):
                return code
    metadata = getattr(error, "response", None)
    if isinstance(metadata, dict):  # botocore's ClientError
        code = metadata.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if isinstance(code, int):
            return code
    return None


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` is worth retrying: HTTP 429 or 5xx, a timeout, a dropped connection."""
    if isinstance(error, TimeoutError | ConnectionError | Retryable):
        return True
    try:
        import requests

        if isinstance(error, requests.Timeout | requests.ConnectionError):
            return True
    except ImportError:  # pragma: no cover - every SDK we use brings requests
        pass
    # botocore's timeouts and dropped connections are its own classes, not the builtins;
    # an error can only be one of them once botocore is loaded
    boto = sys.modules.get("botocore.exceptions")
    if boto is not None and isinstance(error, boto.ConnectionError | boto.HTTPClientError):
        return True
    code = _status_code(error)
    if code is not None:
        return code == 429 or 500 <= code < 600
    cause = error.__cause__ or error.__context__
    return cause is not None and cause is not error and is_transient(cause)


def retry(call: Callable[[], T], what: str, policy: RetryPolicy | None = None) -> T:
    """``call()``, retried per ``policy`` (default :data:`DEFAULT`) while it fails
    transiently; any other error goes straight up.

    Raises:
        TransientError: every attempt failed transiently; names ``what`` and the last error.
    """
    policy = policy or DEFAULT
    last: BaseException | None = None
    for attempt in range(policy.attempts):
        try:
            return call()
        except Exception as error:
            if not is_transient(error):
                raise
            last = error
            if attempt + 1 < policy.attempts:
                delay = min(policy.max_delay, policy.first_delay * 2**attempt)
                delay *= 0.5 + random.random() / 2
                _log.info("%s failed (%s); retrying in %.1f s", what, _describe(error), delay)
                policy.sleep(delay)
    raise TransientError(
        f"{what} failed {policy.attempts} times (HTTP 429/5xx or timeouts); last: "
        f"{_describe(last)}. Nothing was lost: try again later"
    ) from last


def _describe(error: BaseException | None) -> str:
    code = _status_code(error) if error is not None else None
    prefix = f"HTTP {code} " if code is not None else ""
    return f"{prefix}{type(error).__name__}: {error}"
