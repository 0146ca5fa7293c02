"""The video results function: paged results aggregated per celebrity, failures, the sweep of lost jobs."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from botocore.stub import Stubber

from recognizer import clients
from recognizer.contract import (
    CELEBRITY_INDEX,
    DYNAMODB_MAX_ITEM_BYTES,
    PARTITION_KEY,
    SORT_KEY,
    SUMMARY_CELEBRITIES,
    SUMMARY_INTERVALS,
    SUMMARY_MAX_BYTES,
    VERSION_PREFIX,
    FailureCause,
    ImageRef,
    ResultStatus,
    dynamodb_item_bytes,
    from_decimals,
    image_pk,
    pending_job_key,
    summary_sk,
    timeline_key,
    video_result_of,
    video_summary_item,
)
from recognizer.errors import InvalidEventError
from recognizer.video.completion import handle_results
from recognizer.video.timeline import appearances, detection
from tests.handler.recognizer_testkit import BUCKET, TABLE, WHEN, create_results_table, sqs_event
from tests.handler.video_testkit import TIMELINES, job_page, notice, recognition, video_services

VERSION = "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"
REF = ImageRef(BUCKET, "clip.mp4", VERSION)
SCHEDULED = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-11-26T11:29:25Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/sweep"],
    "detail": {},
}


@pytest.fixture
def setup(s3: Any, rekognition: Stubber) -> dict[str, Any]:
    s3.create_bucket(Bucket=TIMELINES)
    dynamodb = clients.dynamodb()
    create_results_table(dynamodb)
    services = video_services(s3, rekognition.client, dynamodb)
    return {"s3": s3, "dynamodb": dynamodb, "services": services}


def _expect_pages(stubber: Stubber, job_id: str, pages: list[dict[str, Any]]) -> None:
    for index, page in enumerate(pages):
        params: dict[str, Any] = {"JobId": job_id, "MaxResults": 1000, "SortBy": "TIMESTAMP"}
        if index:
            params["NextToken"] = pages[index - 1]["NextToken"]
        stubber.add_response("get_celebrity_recognition", page, params)


def _plain(dynamodb: Any, key: dict[str, str]) -> dict[str, Any] | None:
    from boto3.dynamodb.types import TypeDeserializer

    item = dynamodb.get_item(TableName=TABLE, Key={k: {"S": v} for k, v in key.items()}).get("Item")
    return from_decimals({k: TypeDeserializer().deserialize(v) for k, v in item.items()}) if item else None


def _summary(dynamodb: Any, ref: ImageRef = REF) -> dict[str, Any] | None:
    return _plain(
        dynamodb, {PARTITION_KEY: image_pk(ref.bucket, ref.key), SORT_KEY: summary_sk(ref.version_id)}
    )


def _notice_event(job_id: str, status: str = "SUCCEEDED") -> dict[str, Any]:
    return sqs_event(("n1", json.dumps(notice(job_id, status))))


def test_intervals_merge_within_the_gap() -> None:
    found = [
        detection(recognition(t, "Ada", "A1", c))
        for t, c in ((0, 90.0), (500, 97.5), (1400, 91.0), (5000, 92.0), (5200, 80.0))
    ]
    [ada] = appearances(found, gap_ms=1000)
    assert ada["intervals"] == [[0, 1400], [5000, 5200]]
    assert (ada["first_seen_ms"], ada["last_seen_ms"], ada["appearances"]) == (0, 5200, 5)
    assert (ada["confidence"], ada["best_ms"]) == (97.5, 500)
    assert appearances(found, gap_ms=0)[0]["interval_count"] == 5


def test_three_pages_aggregate_per_celebrity(setup: dict[str, Any], rekognition: Stubber) -> None:
    services = setup["services"]
    services.store.record_started(REF, "job-1", "2026-11-26T11:00:00Z")
    pages = [
        job_page(
            "job-1",
            [
                recognition(0, "Ada Lovelace", "A1", 91.0),
                recognition(400, "Ada Lovelace", "A1", 99.0, left=0.42),
            ],
            next_token="p2",
        ),
        job_page(
            "job-1",
            [recognition(800, "Ada Lovelace", "A1", 95.0), recognition(900, "Alan Turing", "T1", 88.0)],
            next_token="p3",
        ),
        job_page("job-1", [recognition(60_000, "Ada Lovelace", "A1", 93.0)]),
    ]
    _expect_pages(rekognition, "job-1", pages)
    assert handle_results(_notice_event("job-1"), None, services=services) == {"batchItemFailures": []}
    rekognition.assert_no_pending_responses()

    summary = _summary(setup["dynamodb"])
    result = video_result_of(summary)
    ada, alan = result["celebrities"]
    assert (ada["name"], ada["first_seen_ms"], ada["last_seen_ms"], ada["appearances"]) == (
        "Ada Lovelace",
        0,
        60_000,
        4,
    )
    assert ada["intervals"] == [[0, 800], [60_000, 60_000]]  # the test gap is 1,000 ms
    assert (ada["confidence"], ada["best_ms"], ada["bounding_box"]["left"]) == (99.0, 400, 0.42)
    assert (alan["name"], alan["appearances"], alan["intervals"]) == ("Alan Turing", 1, [[900, 900]])
    assert result["detections"] == 5 and result["duration_ms"] == 95000
    assert result["timeline"] == f"s3://{TIMELINES}/{timeline_key('job-1')}"

    # The full timeline holds every detection; the job left the pending list.
    timeline = json.loads(setup["s3"].get_object(Bucket=TIMELINES, Key=timeline_key("job-1"))["Body"].read())
    assert [d["timestamp_ms"] for d in timeline["detections"]] == [0, 400, 800, 900, 60_000]
    assert timeline["version_id"] == VERSION
    assert _plain(setup["dynamodb"], pending_job_key("job-1")) is None

    # `celeb results --celebrity` reads the same index as for images.
    found = setup["dynamodb"].query(
        TableName=TABLE,
        IndexName=CELEBRITY_INDEX,
        KeyConditionExpression="celebrity_name = :n",
        ExpressionAttributeValues={":n": {"S": "Alan Turing"}},
    )["Items"]
    assert [(item["key"]["S"], item["media"]["S"], item["first_seen_ms"]["N"]) for item in found] == [
        ("clip.mp4", "video", "900")
    ]


def test_summary_keeps_a_bounded_number_of_intervals(setup: dict[str, Any], rekognition: Stubber) -> None:
    services = setup["services"]
    services.store.record_started(REF, "job-2", "2026-11-26T11:00:00Z")
    many = [recognition(t * 10_000, "Ada Lovelace", "A1", 90.0) for t in range(SUMMARY_INTERVALS + 5)]
    _expect_pages(rekognition, "job-2", [job_page("job-2", many)])
    handle_results(_notice_event("job-2"), None, services=services)
    [ada] = _summary(setup["dynamodb"])["celebrities"]
    assert len(ada["intervals"]) == SUMMARY_INTERVALS and ada["interval_count"] == SUMMARY_INTERVALS + 5


def test_failed_job_is_recorded_with_its_status_message(setup: dict[str, Any], rekognition: Stubber) -> None:
    services = setup["services"]
    services.store.record_started(REF, "job-3", "2026-11-26T11:00:00Z")
    _expect_pages(
        rekognition,
        "job-3",
        [job_page("job-3", [], status="FAILED", status_message="Unsupported codec/format.")],
    )
    assert handle_results(_notice_event("job-3", "FAILED"), None, services=services) == {
        "batchItemFailures": []
    }
    summary = _summary(setup["dynamodb"])
    assert (summary["status"], summary["error_type"], summary["job_id"]) == (
        ResultStatus.FAILED,
        "VideoJobFailedError",
        "job-3",
    )
    assert "Unsupported codec/format." in summary["error_message"]
    assert _plain(setup["dynamodb"], pending_job_key("job-3")) is None


def test_sns_envelope_is_read_too(setup: dict[str, Any], rekognition: Stubber) -> None:
    services = setup["services"]
    services.store.record_started(REF, "job-4", "2026-11-26T11:00:00Z")
    _expect_pages(rekognition, "job-4", [job_page("job-4", [recognition(0, "Ada Lovelace", "A1", 91.0)])])
    envelope = {
        "Type": "Notification",
        "MessageId": "x",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:t",
        "Message": json.dumps(notice("job-4")),
    }
    handle_results(sqs_event(("n1", json.dumps(envelope))), None, services=services)
    assert _summary(setup["dynamodb"])["status"] == ResultStatus.SUCCEEDED


def test_a_notice_ahead_of_the_job_state_comes_back(setup: dict[str, Any], rekognition: Stubber) -> None:
    services = setup["services"]
    services.store.record_started(REF, "job-5", "2026-11-26T11:00:00Z")
    _expect_pages(rekognition, "job-5", [job_page("job-5", [], status="IN_PROGRESS")])
    assert handle_results(_notice_event("job-5"), None, services=services) == {
        "batchItemFailures": [{"itemIdentifier": "n1"}]
    }
    assert _summary(setup["dynamodb"])["status"] == ResultStatus.IN_PROGRESS


def test_sweep_records_lost_completions_and_timeouts(setup: dict[str, Any], rekognition: Stubber) -> None:
    """Three jobs: one finished without a notice, one still running past the timeout, one recent."""
    services = setup["services"]
    store = services.store
    long_ago = (WHEN - timedelta(minutes=90)).strftime("%Y-%m-%dT%H:%M:%SZ")  # timeout: 60 min
    lost, stuck, recent = (ImageRef(BUCKET, f"{name}.mp4", "v1") for name in ("lost", "stuck", "recent"))
    store.record_started(lost, "job-lost", long_ago)
    store.record_started(stuck, "job-stuck", long_ago)
    store.record_started(recent, "job-recent", (WHEN - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    # Only the overdue jobs are asked about (the Stubber would fail on a third call); query order is by id.
    _expect_pages(
        rekognition, "job-lost", [job_page("job-lost", [recognition(0, "Ada Lovelace", "A1", 91.0)])]
    )
    _expect_pages(rekognition, "job-stuck", [job_page("job-stuck", [], status="IN_PROGRESS")])
    assert handle_results(sqs_event(("s1", json.dumps(SCHEDULED))), None, services=services) == {
        "batchItemFailures": []
    }
    rekognition.assert_no_pending_responses()
    assert _summary(setup["dynamodb"], lost)["status"] == ResultStatus.SUCCEEDED
    timed_out = _summary(setup["dynamodb"], stuck)
    assert (timed_out["status"], timed_out["error_type"], timed_out["failure_cause"]) == (
        ResultStatus.FAILED,
        "VideoJobTimeoutError",
        FailureCause.ENVIRONMENT,
    )
    assert _summary(setup["dynamodb"], recent)["status"] == ResultStatus.IN_PROGRESS
    pending = [item["job_id"] for item in store.pending_jobs()]
    assert pending == ["job-recent"]


def test_completion_after_a_timeout_still_records_the_result(
    setup: dict[str, Any], rekognition: Stubber
) -> None:
    """The sweep gave up on the job; its late notice finds no pending item, Rekognition names the video."""
    services = setup["services"]
    services.store.record_failure(
        REF, "VideoJobTimeoutError", "still runs", FailureCause.ENVIRONMENT, "2026-11-26T11:00:00Z", "job-6"
    )
    _expect_pages(
        rekognition,
        "job-6",
        [job_page("job-6", [recognition(0, "Ada Lovelace", "A1", 91.0)], version_id=VERSION)],
    )
    handle_results(_notice_event("job-6"), None, services=services)
    assert _summary(setup["dynamodb"])["status"] == ResultStatus.SUCCEEDED


def test_unreadable_messages_are_left_for_the_dead_letter_queue(
    setup: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """Bad input is never silently dropped: handed back, it reaches the completion DLQ (and its alarm)."""
    event = sqs_event(
        ("bad", "not json"),
        ("odd", json.dumps({"hello": "world"})),
        ("sns", json.dumps({"Type": "Notification", "Message": {"JobId": "job-1"}})),  # not a string
        ("nil", json.dumps({"Type": "Notification"})),
        ("ok", json.dumps(SCHEDULED)),  # the good one in the batch still runs
    )
    event["Records"].append({"messageId": "dict", "body": {"JobId": "job-1"}})  # a body that is no string
    assert handle_results(event, None, services=setup["services"]) == {
        "batchItemFailures": [{"itemIdentifier": m} for m in ("bad", "odd", "sns", "nil", "dict")]
    }
    errors = {r.message_id: r.error_message for r in caplog.records if r.levelname == "ERROR"}  # type: ignore[attr-defined]
    assert errors["bad"].startswith("SQS body is not JSON")
    assert errors["dict"] == "SQS body is dict, expected a JSON string"
    assert errors["sns"] == "the SNS notification's Message is dict, expected a JSON string"
    assert errors["nil"] == "the SNS notification's Message is NoneType, expected a JSON string"
    assert "not a Rekognition notice" in errors["odd"]


def test_a_direct_invocation_of_bad_input_is_a_named_error(setup: dict[str, Any]) -> None:
    with pytest.raises(InvalidEventError, match="Message is int, expected a JSON string"):
        handle_results({"Type": "Notification", "Message": 42}, None, services=setup["services"])
    with pytest.raises(InvalidEventError, match="not a Rekognition notice"):
        handle_results({"JobId": 42}, None, services=setup["services"])


def test_a_sweep_that_cannot_settle_a_job_is_not_handed_back(
    setup: dict[str, Any], rekognition: Stubber
) -> None:
    """The next scheduled sweep tries again; retrying this one would only lead it to the dead-letter queue."""
    services = setup["services"]
    services.store.record_started(REF, "job-8", (WHEN - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    rekognition.add_client_error(
        "get_celebrity_recognition", service_error_code="InternalServerError", http_status_code=500
    )
    assert handle_results(sqs_event(("s1", json.dumps(SCHEDULED))), None, services=services) == {
        "batchItemFailures": []
    }
    assert [item["job_id"] for item in services.store.pending_jobs()] == ["job-8"]  # still pending


def test_a_summary_of_many_celebrities_stays_under_dynamodbs_item_limit(
    setup: dict[str, Any], rekognition: Stubber
) -> None:
    """900 celebrities with Rekognition's few URLs each: the summary keeps the 100 seen most often and
    says so; the timeline and the index keep every one."""
    services = setup["services"]
    services.store.record_started(REF, "job-many", "2026-11-26T11:00:00Z")
    found = []
    for i in range(900):
        for t in range(2 if i >= 800 else 1):  # the last 100 appear twice
            entry = recognition(
                t * 5_000 + i, f"Celebrity number {i:03d} of a crowded video", f"C{i:03d}", 90.0
            )
            entry["Celebrity"]["Urls"] = [f"www.wikidata.org/wiki/Q{i}{'0' * 60}/{n}" for n in range(5)]
            found.append(entry)
    found.sort(key=lambda entry: entry["Timestamp"])
    pages = [found[start : start + 1000] for start in range(0, len(found), 1000)]
    _expect_pages(rekognition, "job-many", [
        job_page("job-many", page, next_token=f"p{n + 1}" if n + 1 < len(pages) else None)
        for n, page in enumerate(pages)
    ])  # fmt: skip
    assert handle_results(_notice_event("job-many"), None, services=services) == {"batchItemFailures": []}

    key = {PARTITION_KEY: {"S": image_pk(BUCKET, "clip.mp4")}, SORT_KEY: {"S": summary_sk(VERSION)}}
    stored = setup["dynamodb"].get_item(TableName=TABLE, Key=key)["Item"]
    # Even as typed JSON (larger than DynamoDB's own count) the item is under the limit.
    assert len(json.dumps(stored).encode()) < DYNAMODB_MAX_ITEM_BYTES
    summary = _summary(setup["dynamodb"])
    assert (summary["celebrity_count"], summary["summary_celebrities"]) == (900, SUMMARY_CELEBRITIES)
    kept = {celebrity["id"] for celebrity in summary["celebrities"]}
    assert kept == {f"C{i:03d}" for i in range(800, 900)}  # the most appearances
    assert all(len(c["intervals"]) <= SUMMARY_INTERVALS for c in summary["celebrities"])
    assert len(video_result_of(summary)["celebrities"]) == SUMMARY_CELEBRITIES
    timeline = json.loads(
        setup["s3"].get_object(Bucket=TIMELINES, Key=timeline_key("job-many"))["Body"].read()
    )
    assert len(timeline["celebrities"]) == 900
    # Every celebrity in the summary would have been too large an item.
    assert sum(dynamodb_item_bytes({"c": c}) for c in timeline["celebrities"]) > DYNAMODB_MAX_ITEM_BYTES
    indexed = setup["dynamodb"].query(
        TableName=TABLE,
        KeyConditionExpression=f"{PARTITION_KEY} = :pk AND begins_with({SORT_KEY}, :v)",
        ExpressionAttributeValues={":pk": {"S": image_pk(BUCKET, "clip.mp4")}, ":v": {"S": VERSION_PREFIX}},
        Select="COUNT",
    )
    assert indexed["Count"] >= 900  # one index item per celebrity (besides the summary)


def test_a_summary_of_celebrities_with_huge_urls_is_cut_by_size() -> None:
    celebrity = appearances([detection(recognition(0, "Ada", "A1", 90.0))], gap_ms=1000)[0]
    heavy = {**celebrity, "urls": ["www.example.com/" + "x" * 10_000]}
    result: Any = {
        "bucket": BUCKET, "key": "clip.mp4", "version_id": VERSION, "job_id": "job-x",
        "celebrities": [{**heavy, "id": f"H{i}"} for i in range(60)], "detections": 60,
        "duration_ms": None, "timeline": None, "analyzed_at": "2026-11-26T11:00:00Z",
    }  # fmt: skip
    item = video_summary_item(result)
    assert dynamodb_item_bytes(item) <= SUMMARY_MAX_BYTES < DYNAMODB_MAX_ITEM_BYTES
    assert item["celebrity_count"] == 60 and 0 < item["summary_celebrities"] == len(item["celebrities"]) < 60
