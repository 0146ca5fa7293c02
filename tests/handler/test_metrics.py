"""Metrics in Embedded Metric Format: each image's JSON log line is an EMF document.

Every document is checked against the EMF specification (CloudWatch User Guide, "Specification:
Embedded metric format"): a JSON Schema of its structure, plus the rules a schema cannot say (each
dimension key and metric name is a top-level member of the right type). The handler tests run the
real function (moto S3 and DynamoDB, Rekognition stubbed) and read the line Lambda would write.
"""

from __future__ import annotations

import gzip
import json
import logging
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore
import handler
import jsonschema
import pytest
from botocore.stub import Stubber

from recognizer import analysis, log, metrics
from recognizer.contract import (
    METRIC_ERROR_TYPE_DIMENSION,
    METRIC_FUNCTION_DIMENSION,
    METRIC_INTERNAL_ERROR,
    SETTINGS_BY_KEY,
    ImageRef,
    MetricName,
)
from recognizer.errors import ImageTooSmallError, RecognitionError, RekognitionThrottledError
from recognizer.metrics import Measurement, MetricGroup, MetricsError
from recognizer.outcome import Analysis, Outcome
from tests.handler.recognizer_testkit import (
    BUCKET,
    WHEN,
    LambdaContext,
    as_lambda_json,
    by_message_id,
    celebrities_response,
    celebrity_face,
    expect_recognition,
    expect_recognition_error,
    image_records,
    s3_event,
    sqs_event,
)

FUNCTION = "CelebrityRecognition-RecognitionFunction-AbC123"
NAMESPACE = SETTINGS_BY_KEY["metrics_namespace"].default
WHEN_MS = int(WHEN.timestamp() * 1000)
TWO_AND_A_STRANGER = celebrities_response(
    celebrity_face("Jeff Bezos", "1SK7cR8M", 98.5),
    celebrity_face("Andy Jassy", "2Pd9tZ", 97.0),
    unrecognized=1,
)

# The specification's document structure as a JSON Schema. The root may hold any other members
# (Lambda's timestamp, level, message, our image fields): "Members not recognized MUST be ignored".
_UNITS = [
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
    "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second",
    "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second",
    "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
]  # fmt: skip
EMF_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["_aws"],
    "properties": {
        "_aws": {
            "type": "object",
            "required": ["Timestamp", "CloudWatchMetrics"],
            "additionalProperties": False,
            "properties": {
                "Timestamp": {"type": "integer", "minimum": 0},  # milliseconds since the epoch
                "CloudWatchMetrics": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["Namespace", "Dimensions", "Metrics"],
                        "additionalProperties": False,
                        "properties": {
                            "Namespace": {"type": "string", "minLength": 1, "maxLength": 255},
                            "Dimensions": {
                                "type": "array",
                                "items": {
                                    "type": "array",
                                    "maxItems": 30,
                                    "items": {"type": "string", "minLength": 1},
                                },
                            },
                            "Metrics": {
                                "type": "array",
                                "maxItems": 100,
                                "items": {
                                    "type": "object",
                                    "required": ["Name"],
                                    "additionalProperties": False,
                                    "properties": {
                                        "Name": {"type": "string", "minLength": 1, "maxLength": 255},
                                        "Unit": {"enum": _UNITS},
                                        "StorageResolution": {"enum": [1, 60]},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        }
    },
}


def assert_emf(document: dict[str, Any]) -> dict[str, Any]:
    """Fails unless ``document`` is a valid EMF document; returns its metric values by name."""
    jsonschema.validate(document, EMF_SCHEMA, format_checker=jsonschema.FormatChecker())
    values: dict[str, Any] = {}
    for directive in document["_aws"]["CloudWatchMetrics"]:
        for dimension_set in directive["Dimensions"]:
            for key in dimension_set:  # target members: strings, as the specification requires
                assert isinstance(document.get(key), str) and 1 <= len(document[key]) <= 1024, key
        for definition in directive["Metrics"]:
            value = document.get(definition["Name"])
            numbers = value if isinstance(value, list) else [value]
            assert 1 <= len(numbers) <= 100, definition
            assert all(
                isinstance(n, int | float) and not isinstance(n, bool) and math.isfinite(n) for n in numbers
            ), definition  # fmt: skip
            values[definition["Name"]] = value
    assert len(values) <= 100
    return values


def directives_by_metric(document: dict[str, Any]) -> dict[str, list[list[str]]]:
    return {
        definition["Name"]: directive["Dimensions"]
        for directive in document["_aws"]["CloudWatchMetrics"]
        for definition in directive["Metrics"]
    }


def unit_of(document: dict[str, Any], name: str) -> str:
    (unit,) = [
        definition["Unit"]
        for directive in document["_aws"]["CloudWatchMetrics"]
        for definition in directive["Metrics"]
        if definition["Name"] == name
    ]
    return unit


@pytest.fixture
def in_lambda(monkeypatch: pytest.MonkeyPatch) -> None:
    """What Lambda sets for the function: its name; and a fixed clock for the timestamps."""
    monkeypatch.setenv(metrics.FUNCTION_NAME_ENV, FUNCTION)
    monkeypatch.setattr(analysis, "utcnow", lambda: WHEN)


# --------------------------------------------------------------------------------------------
# The pure document builder.


def test_the_units_are_cloudwatchs_own() -> None:
    model = Path(botocore.__file__).parent / "data" / "cloudwatch" / "2010-08-01" / "service-2.json.gz"
    standard_units = json.loads(gzip.decompress(model.read_bytes()))["shapes"]["StandardUnit"]["enum"]
    assert metrics.UNITS == set(standard_units) == set(_UNITS)


def test_a_success_publishes_counts_and_latency_per_function(in_lambda: None) -> None:
    ref = ImageRef(BUCKET, "group.png", "v1")
    result: Any = {"celebrities": [{"name": "A"}, {"name": "B"}], "unrecognized_faces": 3}
    document = metrics.image_metrics(
        Analysis(ref, Outcome.SUCCEEDED, result, rekognition_ms=123.456),
        NAMESPACE,
        WHEN,
    )
    assert document is not None
    assert assert_emf(document) == {
        MetricName.IMAGES_ANALYZED: 1,
        MetricName.CELEBRITIES_FOUND: 2,
        MetricName.UNRECOGNIZED_FACES: 3,
        MetricName.ANSWERED_FROM_TABLE: 0,
        MetricName.REKOGNITION_LATENCY: 123.5,
        MetricName.FAILURES: 0,
    }
    assert document["_aws"]["Timestamp"] == WHEN_MS
    assert {d["Namespace"] for d in document["_aws"]["CloudWatchMetrics"]} == {NAMESPACE}
    assert document[METRIC_FUNCTION_DIMENSION] == FUNCTION
    # Only the function's name: no bucket, key or celebrity ever becomes a dimension.
    dimensions = directives_by_metric(document)
    assert dimensions and all(sets == [[METRIC_FUNCTION_DIMENSION]] for sets in dimensions.values())
    assert unit_of(document, MetricName.REKOGNITION_LATENCY) == "Milliseconds"
    assert unit_of(document, MetricName.IMAGES_ANALYZED) == "Count"


@pytest.mark.parametrize("outcome", [Outcome.DUPLICATE, Outcome.REUSED])
def test_an_answer_from_the_table_has_no_latency(in_lambda: None, outcome: Outcome) -> None:
    result: Any = {"celebrities": [{"name": "A"}], "unrecognized_faces": 0}
    document = metrics.image_metrics(Analysis(None, outcome, result), NAMESPACE, WHEN)
    assert document is not None
    values = assert_emf(document)
    assert values[MetricName.ANSWERED_FROM_TABLE] == 1 and values[MetricName.IMAGES_ANALYZED] == 1
    assert MetricName.REKOGNITION_LATENCY not in values


def test_a_duplicate_whose_rekognition_call_was_made_is_not_counted_as_free(in_lambda: None) -> None:
    # A concurrent delivery stored its result first: this one still paid for its call.
    result: Any = {"celebrities": [], "unrecognized_faces": 0}
    document = metrics.image_metrics(
        Analysis(None, Outcome.DUPLICATE, result, rekognition_ms=80.0),
        NAMESPACE,
        WHEN,
    )
    assert document is not None
    values = assert_emf(document)
    assert values[MetricName.ANSWERED_FROM_TABLE] == 0 and values[MetricName.REKOGNITION_LATENCY] == 80.0


@pytest.mark.parametrize(
    ("outcome", "error", "error_type"),
    [
        (Outcome.FAILED, ImageTooSmallError("small"), "ImageTooSmallError"),
        (Outcome.RETRY, RekognitionThrottledError("busy"), "RekognitionThrottledError"),
        (Outcome.RETRY, KeyError("Body"), METRIC_INTERNAL_ERROR),  # a bug: no class name leaks in
    ],
)
def test_a_failure_is_published_per_function_and_per_error_type(
    in_lambda: None, outcome: Outcome, error: Exception, error_type: str
) -> None:
    document = metrics.image_metrics(Analysis(None, outcome, error=error), NAMESPACE, WHEN)
    assert document is not None
    assert assert_emf(document) == {MetricName.FAILURES: 1, MetricName.IMAGES_ANALYZED: 0}
    assert document[METRIC_ERROR_TYPE_DIMENSION] == error_type
    assert directives_by_metric(document) == {
        MetricName.FAILURES: [
            [METRIC_FUNCTION_DIMENSION],
            [METRIC_FUNCTION_DIMENSION, METRIC_ERROR_TYPE_DIMENSION],
        ],
        MetricName.IMAGES_ANALYZED: [[METRIC_FUNCTION_DIMENSION]],
    }


def test_error_types_are_a_closed_set() -> None:
    def named(cls: type) -> set[str]:
        return {cls.__name__}.union(*(named(sub) for sub in cls.__subclasses__()))

    closed = named(RecognitionError) | {METRIC_INTERNAL_ERROR}
    for error in (ImageTooSmallError("x"), ValueError("x"), RuntimeError("x"), None):
        assert metrics.error_type(error) in closed


def test_a_skipped_upload_publishes_nothing(in_lambda: None) -> None:
    assert metrics.image_metrics(Analysis(None, Outcome.SKIPPED), NAMESPACE, WHEN) is None


def test_without_lambda_the_dimension_still_has_a_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(metrics.FUNCTION_NAME_ENV, raising=False)
    document = metrics.image_metrics(Analysis(None, Outcome.FAILED, error=ImageTooSmallError("x")), "N", WHEN)
    assert document is not None and document[METRIC_FUNCTION_DIMENSION] == metrics.LOCAL_FUNCTION_NAME


def test_other_parts_of_the_function_publish_through_the_extension_point(in_lambda: None) -> None:
    document = metrics.function_metrics(
        NAMESPACE,
        {"WatchlistMatches": Measurement(2), "VideoSeconds": Measurement([1.5, 2.0], "Seconds")},
        timestamp_ms=WHEN_MS,
        by={"Watchlist": "staff"},
    )
    assert assert_emf(document) == {"WatchlistMatches": 2, "VideoSeconds": [1.5, 2.0]}
    assert directives_by_metric(document)["WatchlistMatches"] == [
        [METRIC_FUNCTION_DIMENSION],
        [METRIC_FUNCTION_DIMENSION, "Watchlist"],
    ]


@pytest.mark.parametrize(
    ("groups", "dimensions", "timestamp", "complaint"),
    [
        ([MetricGroup({"A": Measurement(1, "Things")}, [("F",)])], {"F": "f"}, WHEN_MS, "unit 'Things'"),
        ([MetricGroup({"A": Measurement(math.nan)}, [("F",)])], {"F": "f"}, WHEN_MS, "finite numbers"),
        ([MetricGroup({"A": Measurement([1] * 101)}, [("F",)])], {"F": "f"}, WHEN_MS, "1-100 finite"),
        ([MetricGroup({"A": Measurement(True)}, [("F",)])], {"F": "f"}, WHEN_MS, "finite numbers"),
        ([MetricGroup({"F": Measurement(1)}, [("F",)])], {"F": "f"}, WHEN_MS, "not a dimension's name"),
        ([MetricGroup({"A": Measurement(1)}, [("G",)])], {"F": "f"}, WHEN_MS, "dimension 'G'"),
        ([MetricGroup({"A": Measurement(1)}, [("F",)])], {"F": ""}, WHEN_MS, "dimension 'F'"),
        (
            [MetricGroup({"A": Measurement(1)}, [tuple(f"D{i}" for i in range(31))])],
            {f"D{i}": "v" for i in range(31)},
            WHEN_MS,
            "1-30 dimensions",
        ),
        (
            [MetricGroup({f"M{i}": Measurement(1) for i in range(101)}, [("F",)])],
            {"F": "f"},
            WHEN_MS,
            "at most 100",
        ),
        ([MetricGroup({"A": Measurement(1)}, [("F",)])], {"F": "f"}, 1.5, "whole milliseconds"),
    ],
)
def test_documents_the_specification_rejects_are_refused(
    groups: list[MetricGroup], dimensions: dict[str, str], timestamp: Any, complaint: str
) -> None:
    with pytest.raises(MetricsError, match=complaint.replace("(", r"\(")):
        metrics.emf_fields("N", groups, dimensions, timestamp)


def test_the_schema_can_fail() -> None:
    good = metrics.emf_fields("N", [MetricGroup({"A": Measurement(1)}, [("F",)])], {"F": "f"}, WHEN_MS)
    assert_emf(good)
    for broken in (
        {**good, "_aws": {**good["_aws"], "Timestamp": "2026-11-26"}},
        {**good, "_aws": {**good["_aws"], "CloudWatchMetrics": [{"Namespace": "N", "Metrics": []}]}},
        {k: v for k, v in good.items() if k != "F"},  # a dimension without its member
        {**good, "A": "1"},  # a metric whose member is no number
    ):
        with pytest.raises((jsonschema.ValidationError, AssertionError)):
            assert_emf(broken)


# --------------------------------------------------------------------------------------------
# The real handler: the lines Lambda writes are EMF documents.


def test_a_direct_invocation_line_carries_the_images_metrics(
    images: dict[str, bytes],
    rekognition: Stubber,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    in_lambda: None,
) -> None:
    monkeypatch.setenv("METRICS_NAMESPACE", "Team/Celebs")
    expect_recognition(rekognition, "group.png", TWO_AND_A_STRANGER)
    handler.lambda_handler({"bucket": BUCKET, "object_name": "group.png"}, LambdaContext())

    (record,) = image_records(caplog.records)
    line = as_lambda_json(record)
    values = assert_emf(line)
    assert {d["Namespace"] for d in line["_aws"]["CloudWatchMetrics"]} == {"Team/Celebs"}
    assert line["_aws"]["Timestamp"] == WHEN_MS and line[METRIC_FUNCTION_DIMENSION] == FUNCTION
    latency = values.pop(MetricName.REKOGNITION_LATENCY)
    assert isinstance(latency, float) and latency >= 0
    assert values == {
        MetricName.IMAGES_ANALYZED: 1,
        MetricName.CELEBRITIES_FOUND: 2,
        MetricName.UNRECOGNIZED_FACES: 1,
        MetricName.ANSWERED_FROM_TABLE: 0,
        MetricName.FAILURES: 0,
    }
    # Still the image's own line: one line per image, its query fields beside the metrics.
    assert (line["outcome"], line["key"], line["celebrities"]) == ("succeeded", "group.png", 2)


def test_an_sqs_batch_publishes_failures_by_error_type(
    images: dict[str, bytes],
    table: Any,
    rekognition: Stubber,
    caplog: pytest.LogCaptureFixture,
    in_lambda: None,
) -> None:
    expect_recognition(rekognition, "group.png", TWO_AND_A_STRANGER)
    event = sqs_event(
        ("m-good", json.dumps(s3_event("group.png"))),
        ("m-small", json.dumps(s3_event("tiny.png"))),
        ("m-not-json", "this is not json"),
    )
    handler.lambda_handler(event, LambdaContext())

    lines = {
        message_id: as_lambda_json(record) for message_id, record in by_message_id(caplog.records).items()
    }
    values = {message_id: assert_emf(line) for message_id, line in lines.items()}
    assert values["m-good"][MetricName.IMAGES_ANALYZED] == 1 and values["m-good"][MetricName.FAILURES] == 0
    for message_id, error_type in (("m-small", "ImageTooSmallError"), ("m-not-json", "InvalidEventError")):
        assert values[message_id] == {MetricName.FAILURES: 1, MetricName.IMAGES_ANALYZED: 0}
        assert lines[message_id][METRIC_ERROR_TYPE_DIMENSION] == error_type


def test_a_stored_version_is_counted_as_answered_from_the_table(
    images: dict[str, bytes],
    versioned: Any,
    table: Any,
    rekognition: Stubber,
    caplog: pytest.LogCaptureFixture,
    in_lambda: None,
) -> None:
    version = versioned.put_object(Bucket=BUCKET, Key="group.png", Body=images["group.png"])["VersionId"]
    expect_recognition(rekognition, "group.png", TWO_AND_A_STRANGER, version_id=version)
    for _ in range(2):
        handler.lambda_handler({"bucket": BUCKET, "object_name": "group.png"}, LambdaContext())

    first, second = (assert_emf(as_lambda_json(record)) for record in image_records(caplog.records))
    assert first[MetricName.ANSWERED_FROM_TABLE] == 0 and MetricName.REKOGNITION_LATENCY in first
    assert second[MetricName.ANSWERED_FROM_TABLE] == 1 and MetricName.REKOGNITION_LATENCY not in second
    assert second[MetricName.CELEBRITIES_FOUND] == 2 and second[MetricName.IMAGES_ANALYZED] == 1


@pytest.fixture
def warn_level() -> Iterator[None]:
    """The function started with log_level=WARN (Lambda filters INFO lines out)."""
    level = log.logger.level
    log.logger.setLevel(logging.WARNING)
    yield
    log.logger.setLevel(level)


def test_metrics_survive_a_log_level_that_hides_the_images_line(
    images: dict[str, bytes],
    rekognition: Stubber,
    caplog: pytest.LogCaptureFixture,
    in_lambda: None,
    warn_level: None,
) -> None:
    expect_recognition(rekognition, "group.png", TWO_AND_A_STRANGER)
    handler.lambda_handler({"bucket": BUCKET, "object_name": "group.png"}, LambdaContext())

    (record,) = image_records(caplog.records)
    assert record.levelno == logging.WARNING and record.getMessage() == "image metrics succeeded"
    line = as_lambda_json(record)
    assert assert_emf(line)[MetricName.IMAGES_ANALYZED] == 1
    assert "key" not in line and "bucket" not in line  # only the metrics: the image's line stays filtered


def test_a_line_without_metrics_stays_filtered(caplog: pytest.LogCaptureFixture, warn_level: None) -> None:
    log.log_image(Outcome.SKIPPED, ImageRef(BUCKET, "k"), metrics=None)
    assert image_records(caplog.records) == []


@pytest.mark.parametrize(
    ("code", "error_type"),
    [
        ("ThrottlingException", "RekognitionThrottledError"),  # handed back to SQS for a retry
        ("InvalidImageFormatException", "UnsupportedImageFormatError"),  # recorded as FAILED
    ],
)
def test_a_failed_rekognition_call_still_publishes_its_latency(
    images: dict[str, bytes],
    table: Any,
    rekognition: Stubber,
    caplog: pytest.LogCaptureFixture,
    in_lambda: None,
    code: str,
    error_type: str,
) -> None:
    """A call that fails after a while is timed like one that answers: otherwise the percentiles
    would drop exactly the slow calls of a struggling Rekognition."""
    import time

    client = rekognition.client

    def slow(model: Any, **_: Any) -> None:
        if model.name == "RecognizeCelebrities":
            time.sleep(0.05)  # Rekognition takes 50 ms to refuse

    # Before the Stubber's own before-call handler, which answers with the error.
    client.meta.events.register_first("before-call.*.*", slow)
    expect_recognition_error(rekognition, "group.png", code)
    event = sqs_event(("m-1", json.dumps(s3_event("group.png"))))
    try:
        handler.lambda_handler(event, LambdaContext())
    finally:
        client.meta.events.unregister("before-call.*.*", slow)

    line = as_lambda_json(by_message_id(caplog.records)["m-1"])
    values = assert_emf(line)
    assert values[MetricName.FAILURES] == 1 and values[MetricName.IMAGES_ANALYZED] == 0
    assert line[METRIC_ERROR_TYPE_DIMENSION] == error_type
    assert values[MetricName.REKOGNITION_LATENCY] >= 50
    assert unit_of(line, MetricName.REKOGNITION_LATENCY) == "Milliseconds"
    assert directives_by_metric(line)[MetricName.REKOGNITION_LATENCY] == [[METRIC_FUNCTION_DIMENSION]]


def test_a_failure_before_any_rekognition_call_has_no_latency(
    images: dict[str, bytes], rekognition: Stubber, caplog: pytest.LogCaptureFixture, in_lambda: None
) -> None:
    handler.lambda_handler(sqs_event(("m-small", json.dumps(s3_event("tiny.png")))), LambdaContext())

    values = assert_emf(as_lambda_json(by_message_id(caplog.records)["m-small"]))
    assert values == {MetricName.FAILURES: 1, MetricName.IMAGES_ANALYZED: 0}
