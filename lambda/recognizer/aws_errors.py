"""Reading botocore exceptions: error code, HTTP status and the failures common to every service."""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
)

from recognizer.contract import ImageRef
from recognizer.errors import (
    ConfigurationError,
    InvalidEventError,
    RecognitionError,
    ServiceUnavailableError,
)

# Codes every service uses for "try again later"; botocore has already retried them.
TRANSIENT_CODES = frozenset(
    {
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "SlowDown",
        "RequestTimeout",
        "RequestTimeoutException",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
    }
)


def error_code(error: ClientError) -> str:
    code = error.response.get("Error", {}).get("Code")
    return str(code) if code else str(status_code(error) or "Unknown")


def error_message(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Message") or "")


def status_code(error: ClientError) -> int | None:
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status if isinstance(status, int) else None


def is_transient(error: ClientError) -> bool:
    status = status_code(error)
    return error_code(error) in TRANSIENT_CODES or (status is not None and 500 <= status <= 504)


def describe_client_error(error: ClientError) -> str:
    message = error_message(error)
    return f"{error_code(error)}: {message}" if message else error_code(error)


def from_botocore_error(error: BotoCoreError, ref: ImageRef, service: str) -> RecognitionError:
    """Failures raised before or around the HTTP exchange rather than by the service."""
    named = ref.error_fields()
    if isinstance(error, ParamValidationError):
        return InvalidEventError(f"{service} rejected the request for {ref.describe()}: {error}", **named)
    if isinstance(error, NoCredentialsError | NoRegionError):
        return ConfigurationError(f"{service} client is not configured: {error}", **named)
    # Connection and read timeouts: botocore retried them already; a later retry may succeed.
    return ServiceUnavailableError(
        f"{service} could not be reached for {ref.describe()} after retries: {type(error).__name__}: {error}",
        **named,
    )
