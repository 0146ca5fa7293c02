"""One standard LogRecord per image on logger `recognizer`; Lambda's JSON log format writes its extras.

What operators query (outcome, bucket, key, version, counts, duration, errors, request and message
ids) must be on the record itself, JSON as it is: the runtime's formatter has no fallback encoder.
"""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import handler
import pytest
from botocore.stub import Stubber

from recognizer import log
from recognizer.contract import ImageRef
from recognizer.errors import (
    ImageAccessDeniedError,
    ImageTooSmallError,
    InvalidEventError,
    RekognitionThrottledError,
)
from recognizer.outcome import Outcome
from tests.handler.recognizer_testkit import (
    BUCKET,
    ERROR_FIELDS,
    IMAGE_FIELDS,
    LAMBDA_OWN_KEYS,
    RECOGNIZER_LOGGER,
    LambdaContext,
    as_lambda_json,
    celebrities_response,
    celebrity_face,
    expect_recognition,
    extras,
    image_records,
)

REF = ImageRef(BUCKET, "line\nbreak é.png", "v1")


def test_an_invocation_logs_one_record_per_image_with_every_queried_field(
    images: dict[str, bytes], rekognition: Stubber, caplog: pytest.LogCaptureFixture
) -> None:
    expect_recognition(rekognition, "group.png", celebrities_response(celebrity_face("A", "1", 99.0)))
    handler.lambda_handler({"bucket": BUCKET, "object_name": "group.png"}, LambdaContext(request_id="r-1"))
    with pytest.raises(ImageTooSmallError):
        handler.lambda_handler({"bucket": BUCKET, "object_name": "tiny.png"}, LambdaContext(request_id="r-2"))

    succeeded, failed = image_records(caplog.records)
    assert (succeeded.name, succeeded.getMessage(), succeeded.levelno) == (
        RECOGNIZER_LOGGER,
        "image analysis succeeded",
        logging.INFO,
    )
    assert {name: extras(succeeded)[name] for name in IMAGE_FIELDS if name != "duration_ms"} == {
        "outcome": "succeeded",
        "bucket": BUCKET,
        "key": "group.png",
        "version_id": None,
        "celebrities": 1,
    }
    assert succeeded.duration_ms >= 0 and succeeded.request_id == "r-1"  # type: ignore[attr-defined]
    assert not set(ERROR_FIELDS) & set(extras(succeeded))

    assert (failed.getMessage(), failed.levelno) == ("image analysis failed", logging.WARNING)
    assert set(IMAGE_FIELDS + ERROR_FIELDS) <= set(extras(failed))
    assert (failed.outcome, failed.key, failed.error_type) == ("failed", "tiny.png", "ImageTooSmallError")  # type: ignore[attr-defined]
    assert "s3://photos-bucket/tiny.png is 40x40 px" in failed.error_message  # type: ignore[attr-defined]
    assert failed.request_id == "r-2"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("outcome", "error", "level"),
    [
        (Outcome.SUCCEEDED, None, logging.INFO),
        (Outcome.DUPLICATE, None, logging.INFO),
        (Outcome.REUSED, None, logging.INFO),
        (Outcome.SKIPPED, None, logging.INFO),
        (Outcome.FAILED, ImageTooSmallError("small"), logging.WARNING),
        (Outcome.RETRY, RekognitionThrottledError("busy"), logging.WARNING),
        # An operator must act: the deployment cannot work, or the code has a bug.
        (Outcome.RETRY, ImageAccessDeniedError("denied"), logging.ERROR),
        (Outcome.RETRY, KeyError("Body"), logging.ERROR),
    ],
)
def test_the_level_says_who_must_act(
    outcome: Outcome, error: Exception | None, level: int, caplog: pytest.LogCaptureFixture
) -> None:
    log.log_image(outcome, REF, celebrities=2, duration_ms=12.345, error=error, message_id="m-1")
    (record,) = image_records(caplog.records)
    assert record.levelno == level and record.getMessage() == f"image analysis {outcome}"
    fields = as_lambda_json(record)
    assert fields["outcome"] == str(outcome) and fields["duration_ms"] == 12.3
    assert (fields["key"], fields["version_id"], fields["message_id"]) == (REF.key, "v1", "m-1")
    if error is not None:
        assert (fields["error_type"], fields["error_message"]) == (type(error).__name__, str(error))


def test_an_unparsed_record_is_named_by_its_error(caplog: pytest.LogCaptureFixture) -> None:
    log.log_image(Outcome.FAILED, None, error=InvalidEventError("bad", bucket=BUCKET, key="k"))
    (record,) = image_records(caplog.records)
    assert (record.bucket, record.key, record.version_id) == (BUCKET, "k", None)  # type: ignore[attr-defined]


def test_records_are_json_as_lambda_writes_them(caplog: pytest.LogCaptureFixture) -> None:
    log.log_image(Outcome.SUCCEEDED, REF, celebrities=1, duration_ms=1.0, request_id="r", message_id=None)
    log.log_event("messages deferred", logging.WARNING, message_ids=["m-2", "m-3"], remaining_ms=10)
    image, event = caplog.records
    for record in (image, event):
        assert not LAMBDA_OWN_KEYS & set(extras(record)), "Lambda would drop these fields"
    line = json.dumps(as_lambda_json(image), ensure_ascii=False)
    assert "\n" not in line and json.loads(line)["key"] == "line\nbreak é.png"
    assert "message_id" not in as_lambda_json(image)  # None context is left out, not logged as null
    assert as_lambda_json(event) == {
        "level": "WARNING",
        "message": "messages deferred",
        "logger": RECOGNIZER_LOGGER,
        "message_ids": ["m-2", "m-3"],
        "remaining_ms": 10,
    }


@pytest.fixture
def lambda_log_level(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], Any]]:
    """Re-imports the log module as Lambda would start it with AWS_LAMBDA_LOG_LEVEL set."""

    def start_with(level: str) -> Any:
        monkeypatch.setenv("AWS_LAMBDA_LOG_LEVEL", level)
        return importlib.reload(log)

    yield start_with
    monkeypatch.delenv("AWS_LAMBDA_LOG_LEVEL", raising=False)
    importlib.reload(log)


@pytest.mark.parametrize(("level", "kept"), [("WARN", ["failed"]), ("TRACE", ["succeeded", "failed"])])
def test_lambdas_application_log_level_applies(
    lambda_log_level: Callable[[str], Any], caplog: pytest.LogCaptureFixture, level: str, kept: list[str]
) -> None:
    started = lambda_log_level(level)
    started.log_image(Outcome.SUCCEEDED, REF)
    started.log_image(Outcome.FAILED, REF, error=ImageTooSmallError("small"))
    assert [record.outcome for record in image_records(caplog.records)] == kept  # type: ignore[attr-defined]
