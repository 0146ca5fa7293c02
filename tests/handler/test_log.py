"""The per-image log line: one JSON object with the agreed fields, honouring LOG_LEVEL."""

from __future__ import annotations

import json

import pytest
from recognizer import log
from recognizer.errors import ImageTooSmallError
from recognizer_testkit import log_lines


def test_line_fields_for_success_and_failure() -> None:
    ok = log.image_line(
        outcome="succeeded",
        bucket="b",
        key="k",
        version_id=None,
        celebrities=2,
        duration_ms=12.345,
        request_id="r",
    )
    assert ok == {
        "level": "INFO",
        "message": "image analysis succeeded",
        "bucket": "b",
        "key": "k",
        "version_id": None,
        "outcome": "succeeded",
        "celebrities": 2,
        "duration_ms": 12.3,
        "request_id": "r",
    }
    failed = log.image_line(
        outcome="failed",
        bucket="b",
        key="k",
        version_id="v",
        celebrities=0,
        duration_ms=1,
        error=ImageTooSmallError("40x40"),
    )
    assert (failed["level"], failed["error_type"], failed["error_message"]) == (
        "WARNING",
        "ImageTooSmallError",
        "40x40",
    )
    bug = log.image_line(
        outcome="retry",
        bucket="b",
        key="k",
        version_id=None,
        celebrities=0,
        duration_ms=0,
        error=KeyError("x"),
    )
    assert bug["level"] == "ERROR" and bug["error_type"] == "KeyError"


def test_one_json_object_per_line_and_level_filtering(capsys: pytest.CaptureFixture[str]) -> None:
    common = {"bucket": "b", "key": "línea\nnueva", "version_id": None, "celebrities": 0, "duration_ms": 1.0}
    log.set_level("INFO")
    log.log_image(outcome="succeeded", **common)
    log.log_image(outcome="failed", error=ImageTooSmallError("small"), **common)
    log.set_level("WARNING")
    log.log_image(outcome="succeeded", **common)
    log.log_image(outcome="retry", error=ImageTooSmallError("x"), **common)
    log.set_level("INFO")
    output = capsys.readouterr().out
    lines = log_lines(output)
    assert len(output.splitlines()) == 3  # a newline inside a key stays escaped inside its line
    assert [line["outcome"] for line in lines] == ["succeeded", "failed", "retry"]
    assert lines[0]["key"] == "línea\nnueva"
    json.dumps(lines)
