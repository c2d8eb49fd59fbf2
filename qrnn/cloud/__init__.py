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
from qrnn.cloud._evaluation import Evaluation, EvaluationProgress, fetch_run, submit_run
from qrnn.cloud._provider import BackendInfo, Provider, Task
from qrnn.cloud._provider import get as provider
from qrnn.cloud._provider import names as providers
from qrnn.cloud._submit import DryRun, JobHandle, dry_run, recover, submit
from qrnn.cloud.jobs import Job, JobStore

__all__ = [
    "BackendInfo",
    "CloudError",
    "CredentialsError",
    "DryRun",
    "Evaluation",
    "EvaluationProgress",
    "Job",
    "JobFailedError",
    "JobHandle",
    "JobStore",
    "MissingExtraError",
    "Provider",
    "StoreCorruptError",
    "StoreError",
    "StoreLockedError",
    "StoreMissingError",
    "StoreVersionError",
    "SubmitInputError",
    "Task",
    "TransientError",
    "UnknownBackendError",
    "UnknownJobError",
    "UnknownProviderError",
    "dry_run",
    "fetch_run",
    "provider",
    "providers",
    "recover",
    "submit",
    "submit_run",
]
