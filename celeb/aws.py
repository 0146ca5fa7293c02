"""One boto3 session per run, thread-safe clients from it, and AWS errors turned into one-liners."""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
)

from celeb import __version__
from celeb.errors import AwsAccessProblem, CelebError, ConfigProblem, Throttled

# Bounded retries in botocore's standard mode: it retries throttling (TooManyRequestsException,
# ThrottlingException, ...) and 5xx with jittered exponential backoff, then gives up.
MAX_ATTEMPTS = 5

# A RequestResponse invoke holds the connection until the function returns, and a Lambda
# function may run up to 900 s; botocore's default 60 s read timeout would cut it off and retry.
LAMBDA_READ_TIMEOUT = 905

_THROTTLING_CODES = frozenset(
    {
        "TooManyRequestsException",
        "ThrottlingException",
        "Throttling",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "SlowDown",
    }
)
_ACCESS_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
        "ExpiredToken",
        "ExpiredTokenException",
        "AuthFailure",
    }
)


def open_session(profile: str | None, region: str | None) -> boto3.Session:
    """The run's only session: boto3 sessions are not thread-safe, so workers only get clients."""
    return boto3.Session(profile_name=profile, region_name=region)


class Aws:
    """Creates each client once, under a lock, so worker threads can share them safely."""

    def __init__(self, profile: str | None, region: str | None, *, max_concurrency: int = 1) -> None:
        self._profile = profile
        self._region = region
        # One pooled connection per concurrent worker, or urllib3 discards connections and warns.
        self._pool_size = max(10, max_concurrency + 2)
        self._session: boto3.Session | None = None
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                if self._session is None:
                    self._session = open_session(self._profile, self._region)
                self._clients[service] = self._session.client(service, config=self._config(service))
            return self._clients[service]

    def _config(self, service: str) -> Config:
        return Config(
            # total_max_attempts counts the first call too; the older `max_attempts` key means retries.
            retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
            max_pool_connections=self._pool_size,
            connect_timeout=10,
            read_timeout=LAMBDA_READ_TIMEOUT if service == "lambda" else 60,
            user_agent_extra=f"celeb-cli/{__version__}",
        )


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def explain(exc: BotoCoreError | ClientError) -> CelebError:
    """Turn a botocore exception into the one-line error the user sees."""
    if isinstance(exc, NoCredentialsError):
        return AwsAccessProblem(
            "no AWS credentials found: pass --profile, set AWS_PROFILE, or configure credentials "
            "(aws configure / aws sso login)"
        )
    if isinstance(exc, PartialCredentialsError):
        return AwsAccessProblem(f"incomplete AWS credentials: {exc}")
    if isinstance(exc, ProfileNotFound):
        return ConfigProblem(f"AWS profile {exc.kwargs.get('profile')!r} not found in the AWS config files")
    if isinstance(exc, NoRegionError):
        return ConfigProblem("no AWS region: pass --region or set AWS_REGION")
    if isinstance(exc, EndpointConnectionError):
        return AwsAccessProblem(f"cannot reach AWS: {exc}")
    if isinstance(exc, ClientError):
        return _explain_client_error(exc)
    return AwsAccessProblem(f"AWS call failed: {exc}")


def _explain_client_error(exc: ClientError) -> CelebError:
    code = error_code(exc)
    message = exc.response.get("Error", {}).get("Message") or str(exc)
    operation = exc.operation_name
    if code in _THROTTLING_CODES:
        attempts = exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0) + 1
        return Throttled(
            f"{operation} throttled by AWS after {attempts} attempts ({code}: {message}); "
            "lower --max-concurrency or --rate, or try again later",
            error_type=code,
        )
    if code in _ACCESS_CODES:
        return AwsAccessProblem(f"{operation}: access denied ({code}: {message})", error_type=code)
    return AwsAccessProblem(f"{operation} failed ({code}: {message})", error_type=code)
