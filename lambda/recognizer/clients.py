"""boto3 clients, created on first use and then kept for the life of the container.

Creating a client loads and parses its service model (milliseconds each); doing it on every
invocation, as the case study's handler did, costs more than the function's own work. Tests and the
bench reset the cache with ``reset_clients``, supply a session with ``use_session`` or wrap a cached
client in a Stubber.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from recognizer.settings import Settings

# Small ranged reads and single-item writes: fail fast and let the bounded retries absorb blips.
# "total_max_attempts" counts the first call too (botocore's "max_attempts" counts only retries),
# matching the meaning of AWS_MAX_ATTEMPTS and of REKOGNITION_MAX_ATTEMPTS.
S3_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 3}, connect_timeout=5, read_timeout=10)
# Items are typed by boto3's TypeSerializer and the service validates them anyway; botocore's
# client-side walk of every nested attribute was about a quarter of the local cost of each write.
# Account-based endpoints need the account id in the credentials, and Lambda's carry none: the
# regional endpoint is used either way, but "preferred" (the default) still resolves the id and
# evaluates its endpoint rules on every call, about a quarter of a small call's local cost.
DYNAMODB_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 5},
    connect_timeout=5,
    read_timeout=10,
    parameter_validation=False,
    account_id_endpoint_mode="disabled",
)
# RecognizeCelebrities on a 15 MB image can take seconds; the retry policy comes from the stack.
REKOGNITION_TIMEOUTS = {"connect_timeout": 5, "read_timeout": 30}

_session: boto3.session.Session | None = None
_clients: dict[tuple[Any, ...], Any] = {}


def rekognition(settings: Settings) -> Any:
    cache_key = ("rekognition", settings.rekognition_retry_mode, settings.rekognition_max_attempts)
    client = _clients.get(cache_key)
    if client is None:  # the Config is only built on a miss: this runs on every invocation
        config = Config(
            retries={
                "mode": settings.rekognition_retry_mode,
                "total_max_attempts": settings.rekognition_max_attempts,
            },
            **REKOGNITION_TIMEOUTS,
        )
        client = _client(cache_key, "rekognition", config)
    return client


def s3() -> Any:
    client = _clients.get(("s3",))
    if client is None:
        client = _client(("s3",), "s3", S3_CONFIG)
        refuse_region_redirects(client)
    return client


def dynamodb() -> Any:
    return _client(("dynamodb",), "dynamodb", DYNAMODB_CONFIG)


def sqs() -> Any:
    """The video start function sends a start back to its queue, delayed, when Rekognition says later."""
    return _client(("sqs",), "sqs", S3_CONFIG)


def reset_clients(*, keep_session: bool = False) -> None:
    """Forget cached clients (and the session unless kept) so the next call builds new ones."""
    global _session
    _clients.clear()
    if not keep_session:
        _session = None


def use_session(session: boto3.session.Session) -> None:
    """Build clients from ``session`` from now on (tests and the bench attach event hooks to it)."""
    global _session
    _clients.clear()
    _session = session


def refuse_region_redirects(client: Any) -> None:
    """Make S3 report a bucket in another region instead of silently following the redirect.

    botocore normally retries against the bucket's region; Rekognition cannot read such a bucket
    anyway, so following it would only turn a clear WrongRegionError into a vague
    InvalidS3ObjectException two calls later. The redirector skips requests already marked as
    redirected, which is the flag set here.
    """
    client.meta.events.register("before-call.s3.GetObject", _mark_redirected)


def _mark_redirected(context: dict[str, Any], **_: Any) -> None:
    context.setdefault("s3_redirect", {})["redirected"] = True


def _client(cache_key: tuple[Any, ...], service: str, config: Config) -> Any:
    global _session
    client = _clients.get(cache_key)
    if client is None:
        if _session is None:
            _session = boto3.session.Session()
        client = _session.client(service, config=config)
        _clients[cache_key] = client
    return client
