"""The cloud backfill (stacks/backfill.py): its state machine as synthesized, and runs of that very
definition in moto's Step Functions interpreter (what moto cannot run: tests/infra/backfill_moto.py).
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from recognizer.contract import (
    BACKFILL_INPUT_DEFAULTS,
    IMAGE_SUFFIXES,
    PARTITION_KEY,
    SORT_KEY,
    FailureCause,
    ImageRef,
    StackOutput,
    failure_item,
    image_pk,
    is_image_key,
    may_succeed_later,
    summary_item,
    summary_sk,
)
from stacks.backfill import MAP_LABEL, REPORT_PREFIX, SQS_BATCH_ENTRIES
from stacks.config import load_config
from tests.conftest import CUSTOM
from tests.infra.backfill_moto import (
    IMAGES,
    REPORTS,
    MotoRun,
    MotoStack,
    for_moto,
    moto_backfill,
    names_in,
    state_machine_definition,
)
from tests.infra.helpers import logical_id_of, only, statements

ANALYZED_AT = "2026-11-26T11:29:25Z"


def _state(definition: dict[str, Any], name: str) -> dict[str, Any]:
    found = [state for key, state in _named_states(definition) if key == name]
    assert len(found) == 1, f"expected one state {name!r}, found {len(found)}"
    return found[0]


def _named_states(definition: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in definition["States"].items():
        yield name, state
        if "ItemProcessor" in state:
            yield from _named_states(state["ItemProcessor"])


@pytest.fixture(scope="module")
def template(synth_template: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    return synth_template()


@pytest.fixture(scope="module")
def definition(template: dict[str, Any]) -> dict[str, Any]:
    return state_machine_definition(template, names_in(template, "https://queue"))


# --- the template ------------------------------------------------------------------------------


def test_state_machine_is_standard_logs_everything_and_traces(template: dict[str, Any]) -> None:
    assembled = Template.from_json(template)
    log_group = logical_id_of(template, "BackfillLogs")
    assembled.has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {
            "StateMachineType": "STANDARD",
            "TracingConfiguration": {"Enabled": True},
            "LoggingConfiguration": {
                "Level": "ALL",
                "IncludeExecutionData": False,
                "Destinations": [
                    {"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": [log_group, "Arn"]}}}
                ],
            },
        },
    )
    assembled.has_resource(
        "AWS::Logs::LogGroup",
        {
            "Properties": {
                "RetentionInDays": 30,
                "LogGroupName": Match.string_like_regexp("^/aws/vendedlogs/states/"),
            },
            "DeletionPolicy": "Retain",
        },
    )
    assert template["Outputs"][StackOutput.BACKFILL_STATE_MACHINE]["Value"] == {
        "Ref": logical_id_of(template, "BackfillStateMachine")
    }


def test_logging_and_tracing_follow_the_config(synth_template: Callable[..., dict[str, Any]]) -> None:
    # CUSTOM: log_level debug (DEBUG logs carry the execution data too) and tracing off.
    default = only(synth_template(), "AWS::StepFunctions::StateMachine")[1]["Properties"]
    assert default["LoggingConfiguration"]["IncludeExecutionData"] is False
    custom = only(synth_template(**CUSTOM), "AWS::StepFunctions::StateMachine")[1]["Properties"]
    assert custom["LoggingConfiguration"]["IncludeExecutionData"] is True
    assert custom["TracingConfiguration"] == {"Enabled": False}


def test_reports_bucket_has_the_images_buckets_defaults(template: dict[str, Any]) -> None:
    reports_id = logical_id_of(template, "BackfillReports")
    reports = template["Resources"][reports_id]
    images = template["Resources"][logical_id_of(template, "StorageImages")]
    for name in ("BucketEncryption", "PublicAccessBlockConfiguration", "OwnershipControls",
                 "VersioningConfiguration", "LifecycleConfiguration"):  # fmt: skip
        assert reports["Properties"][name] == images["Properties"][name], name
    assert reports["Properties"]["LoggingConfiguration"] == {
        "DestinationBucketName": {"Ref": logical_id_of(template, "StorageAccessLogs")},
        "LogFilePrefix": "backfill-reports/",
    }
    assert reports["DeletionPolicy"] == "Retain"
    policy = only(template, "AWS::S3::BucketPolicy", Bucket={"Ref": reports_id})
    [tls] = policy[1]["Properties"]["PolicyDocument"]["Statement"]
    assert tls["Effect"] == "Deny" and tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    # S3 log delivery may write the reports bucket's access logs under their own prefix only.
    logs_id = logical_id_of(template, "StorageAccessLogs")
    _, logs_policy = only(template, "AWS::S3::BucketPolicy", Bucket={"Ref": logs_id})
    [delivery] = [
        statement for statement in logs_policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Allow"
        and statement["Condition"]["ArnLike"]["aws:SourceArn"] == {"Fn::GetAtt": [reports_id, "Arn"]}
    ]  # fmt: skip
    assert delivery["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert delivery["Action"] == "s3:PutObject"
    assert delivery["Resource"]["Fn::Join"][1][-1] == "/backfill-reports/*"


def test_distributed_map_lists_batches_and_writes_a_report(definition: dict[str, Any]) -> None:
    backfill = _state(definition, "Backfill")
    assert backfill["ItemReader"] == {
        "Resource": "arn:aws:states:::s3:listObjectsV2",
        "Parameters": {"Bucket": IMAGES, "Prefix.$": "$.prefix"},
    }
    assert backfill["ItemBatcher"] == {
        "MaxItemsPerBatch": 100,
        "MaxInputBytesPerBatch": 96 * 1024,
        "BatchInput": {"retry_failed.$": "$.retry_failed", "dry_run.$": "$.dry_run"},
    }
    assert backfill["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"}
    assert (backfill["MaxConcurrency"], backfill["ToleratedFailurePercentage"]) == (50, 5)
    assert backfill["Label"] == MAP_LABEL
    assert backfill["ResultWriter"] == {
        "Resource": "arn:aws:states:::s3:putObject",
        "Parameters": {"Bucket": REPORTS, "Prefix": REPORT_PREFIX},
        "WriterConfig": {"OutputType": "JSONL", "Transformation": "COMPACT"},
    }


def test_settings_reach_the_distributed_map(synth_template: Callable[..., dict[str, Any]]) -> None:
    custom = synth_template(**CUSTOM)
    backfill = _state(state_machine_definition(custom, names_in(custom, "https://queue")), "Backfill")
    config = load_config(CUSTOM)
    assert backfill["ItemBatcher"]["MaxItemsPerBatch"] == config.backfill_batch_size != 100
    assert backfill["MaxConcurrency"] == config.backfill_max_concurrency != 50
    assert backfill["ToleratedFailurePercentage"] == config.backfill_tolerated_failure_percentage != 5


def test_each_image_goes_to_the_upload_queue_in_batches_of_ten(definition: dict[str, Any]) -> None:
    send = _state(definition, "SendMessageBatch")
    assert send["Resource"] == "arn:aws:states:::aws-sdk:sqs:sendMessageBatch"
    assert send["Parameters"] == {"QueueUrl": "https://queue", "Entries.$": "$.entries"}
    assert _state(definition, "Count")["Parameters"]["chunks.$"] == (
        f"States.ArrayPartition($.entries, {SQS_BATCH_ENTRIES})"
    )
    assert _state(definition, "HeadObject")["Resource"] == "arn:aws:states:::aws-sdk:s3:headObject"


def _string_matches(pattern: str, value: str) -> bool:
    # ASL's StringMatches: "*" matches any run of characters, "\*" a literal one; the rest literally.
    parts = re.split(r"(?<!\\)\*", pattern)
    return (
        re.fullmatch(".*".join(re.escape(part.replace("\\*", "*")) for part in parts), value, re.S)
        is not None
    )


def test_the_image_choice_is_the_contracts_is_image_key(definition: dict[str, Any]) -> None:
    [rule] = _state(definition, "Image?")["Choices"]
    patterns = [condition["StringMatches"] for condition in rule["Or"]]
    assert {condition["Variable"] for condition in rule["Or"]} == {"$.key"}
    keys = ["a.jpg", "b.JPG", "c.Jpeg", "d.pNg", "e.jpeg.txt", "f.jpg/", "g", "h.gif", "dir/i.PNG", ".png",
            "j.jpe", "k.jpgg", "l.JPEG", "m.pngx", "n jpg", "*.png", "o.JpEg"]  # fmt: skip
    keys += [f"p{suffix}" for suffix in IMAGE_SUFFIXES] + [f"q{suffix.upper()}" for suffix in IMAGE_SUFFIXES]
    for key in keys:
        assert any(_string_matches(pattern, key) for pattern in patterns) == is_image_key(key), key


def test_the_lookup_reads_the_contracts_summary_key(definition: dict[str, Any]) -> None:
    lookup = _state(definition, "Lookup")
    assert lookup["Resource"] == "arn:aws:states:::dynamodb:getItem"
    key = lookup["Parameters"]["Key"]
    assert set(key) == {PARTITION_KEY, SORT_KEY}
    pk = re.fullmatch(r"States\.Format\('(.*)', \$\.key\)", key[PARTITION_KEY]["S.$"])
    sk = re.fullmatch(r"States\.Format\('(.*)', \$\.pinned\.version_id\)", key[SORT_KEY]["S.$"])
    assert pk and sk
    ref = ImageRef(IMAGES, "photos/2021/a b+c.jpg", "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY")
    assert pk.group(1).replace("{}", ref.key) == image_pk(ref.bucket, ref.key)
    assert sk.group(1).replace("{}", str(ref.version_id)) == summary_sk(ref.version_id)


def test_role_grants_exactly_what_the_states_do(template: dict[str, Any]) -> None:
    role = logical_id_of(template, "BackfillStateMachineRole")
    granted = {
        action: statement["Resource"]
        for statement in statements(template, role)
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    }
    images, table = logical_id_of(template, "StorageImages"), logical_id_of(template, "ResultsTable")
    assert granted.pop("s3:ListBucket") == {"Fn::GetAtt": [images, "Arn"]}
    assert granted.pop("sqs:SendMessage") == {
        "Fn::GetAtt": [logical_id_of(template, "IngestionQueue"), "Arn"]
    }
    assert table in json.dumps(granted.pop("dynamodb:GetItem"))
    assert granted.pop("states:StartExecution") == {"Ref": logical_id_of(template, "BackfillStateMachine")}
    reports = json.dumps(granted.pop("s3:PutObject"))
    assert logical_id_of(template, "BackfillReports") in reports
    for action in ("s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"):
        assert json.dumps(granted.pop(action)) == reports
    # HeadObject on the images and the ResultWriter's reads of its own files: both s3:GetObject.
    assert images in json.dumps(granted.pop("s3:GetObject"))
    for action in ("states:DescribeExecution", "states:StopExecution", "states:RedriveExecution"):
        assert logical_id_of(template, "BackfillStateMachine") in json.dumps(granted.pop(action))
    # What is left supports no resource-level permission at all.
    assert set(granted.values()) == {"*"}
    assert set(granted) == {
        "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies", "logs:DescribeLogGroups", "xray:PutTraceSegments",
        "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets",
    }  # fmt: skip


def test_without_results_table_every_image_is_sent_unpinned(
    synth_template: Callable[..., dict[str, Any]],
) -> None:
    no_table = synth_template(results_table="false")
    definition = state_machine_definition(no_table, names_in(no_table, "https://queue"))
    names = {name for name, _ in _named_states(definition)}
    assert {"HeadObject", "Lookup", "Decide"}.isdisjoint(names)
    assert _state(definition, "SendQueued")["Parameters"]["entry"]["MessageBody.$"] == (
        "States.JsonToString($.message)"
    )


def test_stack_without_cloud_backfill_has_no_state_machine() -> None:
    import aws_cdk as cdk

    from stacks.app import base_context
    from stacks.recognition_stack import CelebrityRecognitionStack

    # Constructed, not synthesized: what is asked is whether the construct and its output exist.
    app = cdk.App(context={**base_context(), "aws:cdk:bundling-stacks": []})
    stack = CelebrityRecognitionStack(app, "NoBackfill", config=load_config({"cloud_backfill": "false"}))
    assert stack.node.try_find_child("Backfill") is None
    assert stack.node.try_find_child(str(StackOutput.BACKFILL_STATE_MACHINE)) is None


# --- runs in moto ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def deployed(template: dict[str, Any], synth_template: Callable[..., dict[str, Any]]) -> Iterator[MotoStack]:
    with moto_backfill() as emulator:
        stack = MotoStack.create(emulator)
        stack.machine_arn = stack.state_machine(template, "backfill")
        stack.no_table_machine_arn = stack.state_machine(
            synth_template(results_table="false"), "backfill-no-table"
        )
        yield stack


def _succeeded(ref: ImageRef) -> dict[str, Any]:
    bucket, key, version_id = ref
    return summary_item({"bucket": bucket, "key": key, "version_id": version_id, "celebrities": [],
                         "unrecognized_faces": 0, "analyzed_at": ANALYZED_AT})  # fmt: skip


def _failed(ref: ImageRef, cause: FailureCause | None) -> dict[str, Any]:
    item = failure_item(ref, "SomeError", "it failed", cause or FailureCause.ENVIRONMENT, ANALYZED_AT)
    if cause is None:  # written before causes were recorded
        del item["failure_cause"]
    return item


# Image suffixes as uploads spell them, and names that only look like images.
IMAGE_SPELLINGS = (".jpg", ".JPG", ".jpeg", ".Jpeg", ".png", ".PNG", ".pNg", ".JpG", ".JPEG")
NOT_IMAGES = (".txt", ".json", ".jpg.txt", ".png.bak", ".gif", ".jpgx", "", ".JPEG2", ".heic", "/")


@pytest.fixture(scope="module")
def archive(deployed: MotoStack) -> tuple[MotoRun, dict[str, set[ImageRef]]]:
    """1,100 objects under archive/ (and some elsewhere): what each kind is, and one backfill of them.

    Over 1,000, so the listing takes two ListObjectsV2 pages, as a real archive does."""
    expected: dict[str, set[ImageRef]] = {name: set() for name in ("queued", "analyzed", "not_image")}
    items = []
    for number in range(300):
        key = f"archive/{number // 100}/photo-{number}{IMAGE_SPELLINGS[number % len(IMAGE_SPELLINGS)]}"
        ref = ImageRef(IMAGES, key, deployed.put(key))
        if number < 180:
            items.append(_succeeded(ref))
        elif number < 240:
            items.append(_failed(ref, (FailureCause.IMAGE, FailureCause.ENVIRONMENT, None)[number % 3]))
        elif number < 260:
            # Analyzed, then overwritten: the new version has no result.
            items.append(_succeeded(ref))
            ref = ref.with_version(deployed.put(key, b"new bytes"))
        expected["analyzed" if number < 240 else "queued"].add(ref)
    for number in range(800):
        key = f"archive/{number // 100}/other-{number}{NOT_IMAGES[number % len(NOT_IMAGES)]}"
        expected["not_image"].add(ImageRef(IMAGES, key, deployed.put(key)))
    for number in range(5):  # outside the prefix: never listed
        deployed.put(f"elsewhere/{number}.jpg")
    deployed.record(items)
    return deployed.run("archive/"), expected


def test_only_image_versions_without_result_reach_the_queue(
    archive: tuple[MotoRun, dict[str, set[ImageRef]]],
) -> None:
    run, expected = archive
    assert run.described["status"] == "SUCCEEDED", run.described
    assert sum(len(refs) for refs in expected.values()) == 1100
    assert len(run.sent) == len(set(run.sent)) == len(expected["queued"]) == 60
    assert set(run.sent) == expected["queued"]


def test_the_report_counts_every_listed_object(archive: tuple[MotoRun, dict[str, set[ImageRef]]]) -> None:
    run, expected = archive
    assert run.counts == {
        "queued": len(expected["queued"]),
        "retried": 0,
        "analyzed": len(expected["analyzed"]),
        "not_image": len(expected["not_image"]),
        "gone": 0,
    }
    assert len(run.report) == 11  # 1,100 objects in batches of 100


def test_retry_failed_sends_exactly_the_failures_that_may_pass(deployed: MotoStack) -> None:
    prefix = f"retry-{uuid.uuid4().hex[:6]}/"
    causes = {"image": FailureCause.IMAGE, "environment": FailureCause.ENVIRONMENT, "unrecorded": None}
    items = {}
    for name, cause in causes.items():
        ref = ImageRef(IMAGES, f"{prefix}{name}.jpg", deployed.put(f"{prefix}{name}.jpg"))
        items[ref] = _failed(ref, cause)
    done = ImageRef(IMAGES, f"{prefix}done.png", deployed.put(f"{prefix}done.png"))
    items[done] = _succeeded(done)
    deployed.record(list(items.values()))

    plain, retrying = deployed.run(prefix), deployed.run(prefix, retry_failed=True)

    assert plain.sent == [] and plain.counts["analyzed"] == 4
    assert set(retrying.sent) == {ref for ref, item in items.items() if may_succeed_later(item)}
    assert {ref.key.removeprefix(prefix) for ref in retrying.sent} == {"environment.jpg", "unrecorded.jpg"}
    assert (retrying.counts["retried"], retrying.counts["analyzed"]) == (2, 2)


def test_dry_run_counts_and_sends_nothing(deployed: MotoStack) -> None:
    prefix = f"dry-{uuid.uuid4().hex[:6]}/"
    for name in ("a.jpg", "b.PNG", "c.txt"):
        deployed.put(prefix + name)

    run = deployed.run(prefix, dry_run=True)

    assert run.described["status"] == "SUCCEEDED"
    assert run.bodies == []
    assert (run.counts["queued"], run.counts["not_image"]) == (2, 1)


def test_an_object_deleted_after_the_listing_is_gone_not_failed(deployed: MotoStack) -> None:
    prefix = f"gone-{uuid.uuid4().hex[:6]}/"
    kept = ImageRef(IMAGES, f"{prefix}kept.jpg", deployed.put(f"{prefix}kept.jpg"))
    deployed.put(f"{prefix}deleted.jpg")
    deployed.emulator.after_listing = lambda: deployed.client("s3").delete_object(
        Bucket=IMAGES, Key=f"{prefix}deleted.jpg"
    )
    try:
        run = deployed.run(prefix)
    finally:
        deployed.emulator.after_listing = lambda: None

    assert run.described["status"] == "SUCCEEDED"
    assert run.sent == [kept]
    assert (run.counts["queued"], run.counts["gone"]) == (1, 1)


def test_missing_input_takes_the_contracts_defaults_and_bad_input_fails(deployed: MotoStack) -> None:
    prefix = f"defaults-{uuid.uuid4().hex[:6]}/"
    ref = ImageRef(IMAGES, f"{prefix}a.jpg", deployed.put(f"{prefix}a.jpg"))

    given = deployed.run(prefix)  # neither retry_failed nor dry_run

    output = json.loads(given.described["output"])
    assert {name: output[name] for name in BACKFILL_INPUT_DEFAULTS} == {
        **BACKFILL_INPUT_DEFAULTS,
        "prefix": prefix,
    }
    assert given.sent == [ref]

    bad = deployed.run(prefix, dry_run="yes")

    assert (bad.described["status"], bad.described["error"]) == ("FAILED", "Backfill.InvalidInput")
    assert bad.bodies == []


def test_without_results_table_every_image_is_queued_for_its_latest_version(deployed: MotoStack) -> None:
    prefix = f"no-table-{uuid.uuid4().hex[:6]}/"
    for name in ("a.jpg", "b.Jpeg", "c.txt"):
        deployed.put(prefix + name)

    run = deployed.run(prefix, machine=deployed.no_table_machine_arn)

    assert run.described["status"] == "SUCCEEDED"
    assert sorted(run.sent) == [
        ImageRef(IMAGES, f"{prefix}a.jpg"),
        ImageRef(IMAGES, f"{prefix}b.Jpeg"),
    ]
    assert (run.counts["queued"], run.counts["not_image"]) == (2, 1)


def test_the_moto_definition_differs_only_where_moto_cannot_run(definition: dict[str, Any]) -> None:
    runnable = for_moto(definition)
    original, changed = (
        copy.deepcopy(_state(definition, "Backfill")),
        copy.deepcopy(_state(runnable, "Backfill")),
    )
    assert "ItemBatcher" not in changed and "WriterConfig" not in changed["ResultWriter"]
    assert changed["ItemProcessor"].pop("ProcessorConfig") == {
        "Mode": "DISTRIBUTED",
        "ExecutionType": "STANDARD",
    }
    assert changed.pop("ItemSelector")["BatchInput"] == original.pop("ItemBatcher")["BatchInput"]
    assert changed["ItemReader"]["Parameters"].pop("MaxKeys") == 100
    assert changed.pop("ToleratedFailurePercentage") == original.pop("ToleratedFailurePercentage")
    original["ResultWriter"].pop("WriterConfig")
    original["ItemProcessor"].pop("ProcessorConfig")
    # Everything else, every state of the child workflow included, is run as synthesized.
    assert changed == original
    assert {name: state for name, state in _named_states(runnable) if name != "Backfill"} == {
        name: state for name, state in _named_states(definition) if name != "Backfill"
    }
