"""`celeb backfill` in the cloud: the stack's state machine, as synthesized, run by the moto server.

The test stack gets the backfill state machine of the synthesized template (run by moto's Step
Functions interpreter, with the emulator's gaps filled as tests/infra/backfill_moto.py describes)
and a `BackfillStateMachineArn` output. What the state machine queues is then delivered to the real
function's handler, as the queue's event source mapping would, so a second backfill finds results.
"""

from __future__ import annotations

import json
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from moto.core.config import default_user_config

from celeb import cloud_backfill, render
from recognizer.contract import (
    PARTITION_KEY,
    SORT_KEY,
    FailureCause,
    ImageRef,
    StackOutput,
    failure_item,
    image_pk,
    summary_sk,
)
from recognizer.dispatch import handle
from tests.client.celeb_testkit import (
    JPEG_BYTES,
    PNG_BYTES,
    TOO_SMALL_JPEG,
    aws_client,
    error_lines,
    function_arn,
    put_item,
    serve_stack,
    stack_template,
)
from tests.client.local_lambda import ACCOUNT, REGION, LambdaContext, LocalLambda
from tests.infra.backfill_moto import (
    EXECUTE,
    ROLE_ARN,
    for_moto,
    moto_backfill,
    names_in,
    state_machine_definition,
)

# Not the conftest's default stack (CelebrityRecognition), which the `function` fixture deploys.
STACK = "Cloud"
STATE_MACHINE = f"{STACK}-Backfill"


@dataclass(frozen=True)
class CloudStack:
    stack_name: str
    bucket: str
    table: str | None
    queue_url: str
    reports: str
    state_machine_arn: str


@pytest.fixture
def cloud(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, synth_template: Callable[..., dict[str, Any]]
) -> Iterator[Callable[..., CloudStack]]:
    """Deploys test stacks with the backfill state machine; the moto server runs their executions."""
    monkeypatch.setitem(default_user_config, "stepfunctions", EXECUTE["stepfunctions"])
    # moto's interpreter calls the services of the server it runs in: on this port.
    monkeypatch.setenv("MOTO_PORT", moto_endpoint.rsplit(":", 1)[1])
    monkeypatch.setattr(cloud_backfill, "POLL_SECONDS", 0.05)

    def deploy(stack_name: str = STACK, *, with_table: bool = True, with_machine: bool = True) -> CloudStack:
        machine = f"{stack_name}-Backfill"
        template = stack_template(f"{stack_name}-Recognizer", with_table=with_table)
        template["Resources"]["Reports"] = {"Type": "AWS::S3::Bucket"}
        template["Outputs"][StackOutput.BACKFILL_STATE_MACHINE] = {
            "Value": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{machine}"
        }
        cloudformation = aws_client("cloudformation")
        cloudformation.create_stack(StackName=stack_name, TemplateBody=json.dumps(template))
        resources = {
            r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in cloudformation.describe_stack_resources(StackName=stack_name)["StackResources"]
        }
        aws_client("s3").put_bucket_versioning(
            Bucket=resources["Images"], VersioningConfiguration={"Status": "Enabled"}
        )
        if not with_machine:  # the output alone: for runs the client refuses before calling Step Functions
            return CloudStack(stack_name, resources["Images"], resources.get("Results"), resources["Queue"],
                              resources["Reports"], "")  # fmt: skip
        synthesized = synth_template() if with_table else synth_template(results_table="false")
        names = names_in(synthesized, resources["Queue"], images=resources["Images"],
                         reports=resources["Reports"], table=resources.get("Results", ""))  # fmt: skip
        definition = for_moto(state_machine_definition(synthesized, names))
        created = aws_client("stepfunctions").create_state_machine(
            name=machine, definition=json.dumps(definition), roleArn=ROLE_ARN
        )
        return CloudStack(stack_name, resources["Images"], resources.get("Results"), resources["Queue"],
                          resources["Reports"], created["stateMachineArn"])  # fmt: skip

    with moto_backfill(in_process=False):
        yield deploy


@pytest.fixture
def backfill_stack(
    cloud: Callable[..., CloudStack], function: LocalLambda, monkeypatch: pytest.MonkeyPatch
) -> CloudStack:
    """The stack `celeb` uses in these tests (CELEB_STACK), served by the real function."""
    deployed = cloud()
    serve_stack(function, _as_testkit(deployed, function))
    monkeypatch.setenv("CELEB_STACK", STACK)
    return deployed


def _as_testkit(deployed: CloudStack, function: LocalLambda) -> Any:
    from tests.client.celeb_testkit import Deployed

    name = f"{deployed.stack_name}-Recognizer"
    return Deployed(deployed.stack_name, deployed.bucket, name, function_arn(name), deployed.table)


def _put(backfill_stack: CloudStack, objects: dict[str, bytes]) -> dict[str, ImageRef]:
    s3 = aws_client("s3")
    return {
        key: ImageRef(
            backfill_stack.bucket,
            key,
            s3.put_object(Bucket=backfill_stack.bucket, Key=key, Body=body)["VersionId"],
        )
        for key, body in objects.items()
    }


def _deliver_queue(backfill_stack: CloudStack, function: LocalLambda) -> list[dict[str, Any]]:
    """Hand the queued messages to the real handler in batches, as the event source mapping does."""
    sqs, bodies = aws_client("sqs"), []
    while messages := sqs.receive_message(QueueUrl=backfill_stack.queue_url, MaxNumberOfMessages=10).get(
        "Messages"
    ):
        records = [
            {"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
             "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
             "eventSource": "aws:sqs", "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:uploads",
             "awsRegion": REGION}
            for m in messages
        ]  # fmt: skip
        context = LambdaContext(function.function_name, function.function_arn, 256, time.monotonic() + 60,
                                str(uuid.uuid4()))  # fmt: skip
        answer = handle({"Records": records}, context, environ=function.environ)
        assert answer == {"batchItemFailures": []}, answer
        sqs.delete_message_batch(
            QueueUrl=backfill_stack.queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )
        bodies += [json.loads(m["Body"]) for m in messages]
    return bodies


def _row(stdout: str, label: str) -> int:
    line = next(line for line in stdout.splitlines() if f" {label} " in line)
    return int(line.strip("│ ").split("│")[-1].strip())


def _stored(backfill_stack: CloudStack, ref: ImageRef) -> dict[str, Any] | None:
    key = {PARTITION_KEY: {"S": image_pk(ref.bucket, ref.key)}, SORT_KEY: {"S": summary_sk(ref.version_id)}}
    return aws_client("dynamodb").get_item(TableName=backfill_stack.table, Key=key).get("Item")


@pytest.fixture
def photos(backfill_stack: CloudStack, function: LocalLambda) -> dict[str, ImageRef]:
    """photos/ holds 6 images (2 analyzed through their upload's event) and a text file; other/ one more."""
    refs = _put(backfill_stack, {
        "photos/a.jpg": JPEG_BYTES, "photos/b.JPG": JPEG_BYTES, "photos/c.png": PNG_BYTES,
        "photos/d.jpeg": JPEG_BYTES, "photos/e.Jpeg": JPEG_BYTES, "photos/f.PNG": PNG_BYTES,
        "photos/notes.txt": b"not an image", "other/g.jpg": JPEG_BYTES,
    })  # fmt: skip
    for key in ("photos/a.jpg", "photos/d.jpeg"):
        function.deliver_upload(backfill_stack.bucket, key, refs[key].version_id)
    return refs


def test_queues_the_images_without_result_and_a_rerun_finds_them_analyzed(
    cli, backfill_stack, function, photos
):
    first = cli("backfill", "--prefix", "photos/")

    assert first.exit_code == 0, first.output
    assert first.stderr.startswith(
        f"started arn:aws:states:{REGION}:{ACCOUNT}:execution:{STATE_MACHINE}:backfill-"
    )
    assert (_row(first.stdout, "objects listed"), _row(first.stdout, "queued (no result yet)")) == (7, 4)
    assert _row(first.stdout, "skipped (already had a result)") == 2
    assert _row(first.stdout, "skipped (not an image)") == 1
    assert f"report: s3://{backfill_stack.reports}/backfill/" in first.stdout
    assert function.calls == []  # nothing was invoked from this machine
    # The bar's last state is the Map Run's item counts: every item listed has finished.
    sfn = aws_client("stepfunctions")
    [execution] = sfn.list_executions(stateMachineArn=backfill_stack.state_machine_arn)["executions"]
    [map_run] = sfn.list_map_runs(executionArn=execution["executionArn"])["mapRuns"]
    total = sfn.describe_map_run(mapRunArn=map_run["mapRunArn"])["itemCounts"]["total"]
    assert f"{total}/{total}" in first.stderr

    queued = _deliver_queue(backfill_stack, function)

    new = ("photos/b.JPG", "photos/c.png", "photos/e.Jpeg", "photos/f.PNG")
    assert sorted(body["object_name"] for body in queued) == sorted(new)
    assert all(body["version_id"] == photos[body["object_name"]].version_id for body in queued)
    assert all(_stored(backfill_stack, photos[key]) for key in new)

    second = cli("backfill", "--prefix", "photos/")

    assert second.exit_code == 0, second.output
    assert _row(second.stdout, "queued (no result yet)") == 0
    assert _row(second.stdout, "skipped (already had a result)") == 6
    assert _deliver_queue(backfill_stack, function) == []


def test_dry_run_counts_and_queues_nothing(cli, backfill_stack, function, photos):
    result = cli("backfill", "--prefix", "photos/", "--dry-run")

    assert result.exit_code == 0, result.output
    assert "(dry run)" in result.stdout
    assert _row(result.stdout, "would be queued (no result yet)") == 4
    assert "in the upload queue" not in result.stdout
    assert _deliver_queue(backfill_stack, function) == []


def test_retry_failed_queues_only_failures_that_may_pass(cli, backfill_stack, function):
    refs = _put(backfill_stack, {"old/missing.jpg": JPEG_BYTES, "old/tiny.jpg": TOO_SMALL_JPEG})
    for key, error_type, cause in (("old/missing.jpg", "ImageNotFoundError", FailureCause.ENVIRONMENT),
                                   ("old/tiny.jpg", "ImageTooSmallError", FailureCause.IMAGE)):  # fmt: skip
        item = failure_item(refs[key], error_type, "it failed", cause, "2026-11-26T11:29:25Z")
        put_item(backfill_stack.table, item)

    plain = cli("backfill", "--prefix", "old/")
    assert plain.exit_code == 0, plain.output
    assert _deliver_queue(backfill_stack, function) == []

    retried = cli("backfill", "--prefix", "old/", "--retry-failed")

    assert retried.exit_code == 0, retried.output
    assert _row(retried.stdout, "queued again (failure that may pass)") == 1
    assert [body["object_name"] for body in _deliver_queue(backfill_stack, function)] == ["old/missing.jpg"]
    assert _stored(backfill_stack, refs["old/missing.jpg"])["status"] == {"S": "SUCCEEDED"}


@pytest.fixture
def ctrl_c_at_first_look(monkeypatch: pytest.MonkeyPatch) -> None:
    """One Ctrl-C, as soon as the client has looked at the execution for the first time."""
    original = render.CloudBackfillProgress.update
    pressed = []

    def update(self: render.CloudBackfillProgress, seen: cloud_backfill.ExecutionProgress) -> None:
        original(self, seen)
        if not pressed:
            pressed.append(seen)
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(render.CloudBackfillProgress, "update", update)


def test_ctrl_c_stops_watching_not_the_backfill_and_status_attaches_again(
    cli, backfill_stack, photos, ctrl_c_at_first_look
):
    stopped = cli("backfill", "--prefix", "photos/")

    assert stopped.exit_code == 130, stopped.output
    [execution] = aws_client("stepfunctions").list_executions(
        stateMachineArn=backfill_stack.state_machine_arn
    )["executions"]
    arn = execution["executionArn"]
    assert f"celeb backfill --status {arn}" in stopped.stderr
    assert f"aws stepfunctions stop-execution --execution-arn {arn}" in stopped.stderr
    assert error_lines(stopped.stderr) == ["error: stopped watching (the backfill was not stopped)"]
    assert stopped.stdout == ""  # no summary of a backfill it did not see end

    for attach in (("--status",), ("--status", arn.rsplit(":", 1)[1]), ("--status", arn)):
        again = cli("backfill", *attach)
        assert again.exit_code == 0, again.output
        assert _row(again.stdout, "queued (no result yet)") == 4
    assert (
        len(
            aws_client("stepfunctions").list_executions(stateMachineArn=backfill_stack.state_machine_arn)[
                "executions"
            ]
        )
        == 1
    )


def test_status_before_any_backfill_says_so(cli, backfill_stack):
    result = cli("backfill", "--status")

    assert result.exit_code == 2
    assert error_lines(result.stderr) == [
        "error: no backfill has run on this stack yet: start one with `celeb backfill`"
    ]


def test_a_failed_execution_is_reported_with_how_to_redrive(cli, backfill_stack):
    s3 = aws_client("s3")
    s3.delete_bucket(Bucket=backfill_stack.bucket)  # the listing fails: nothing to back up, nothing queued

    result = cli("backfill")

    assert result.exit_code == 1
    [line] = error_lines(result.stderr)
    assert (
        line.startswith("error: the backfill ended FAILED (") and "redrive-execution --execution-arn" in line
    )


def test_failed_batches_of_the_report_are_shown_and_fail_the_run(cli, backfill_stack, photos):
    """moto writes no FAILED result file: one is written here in the format AWS documents, over a real
    execution's report, and read back through `--status`."""
    assert cli("backfill", "--prefix", "photos/", "--dry-run").exit_code == 0
    sfn, s3 = aws_client("stepfunctions"), aws_client("s3")
    [execution] = sfn.list_executions(stateMachineArn=backfill_stack.state_machine_arn)["executions"]
    details = json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["output"])["report"]
    manifest_key = details["ResultWriterDetails"]["Key"]
    manifest = json.loads(s3.get_object(Bucket=backfill_stack.reports, Key=manifest_key)["Body"].read())
    failed_key = manifest_key.replace("manifest.json", "FAILED_0.json")
    failed = {"ExecutionArn": "arn:child", "Status": "FAILED", "Error": "Backfill.SendRefused",
              "Cause": "SQS refused messages of this batch",
              "Input": json.dumps({"Items": [{}, {}, {}]})}  # fmt: skip
    s3.put_object(Bucket=backfill_stack.reports, Key=failed_key, Body=(json.dumps(failed) + "\n").encode())
    manifest["ResultFiles"]["FAILED"] = [{"Key": failed_key, "Size": 1}]
    s3.put_object(Bucket=backfill_stack.reports, Key=manifest_key, Body=json.dumps(manifest).encode())

    result = cli("backfill", "--status")

    assert result.exit_code == 1
    assert _row(result.stdout, "in failed batches") == 3
    assert _row(result.stdout, "objects listed") == 10  # the 7 counted, and the 3 of the failed batch
    assert "Backfill.SendRefused" in result.stdout
    assert error_lines(result.stderr) == [
        "error: 3 of 10 object(s) were in batches that failed (see above); run `celeb backfill` again to "
        "queue those without a result"
    ]


def test_without_results_table_every_image_is_queued_only_with_all(cli, cloud, function):
    deployed = cloud("NoTable", with_table=False)
    serve_stack(function, _as_testkit(deployed, function))
    _put(deployed, {"x.jpg": JPEG_BYTES, "y.png": PNG_BYTES, "z.txt": b"text"})

    refused = cli("--stack", "NoTable", "backfill")
    assert refused.exit_code == 3
    assert "pass --all to queue every image" in error_lines(refused.stderr)[0]

    forced = cli("--stack", "NoTable", "backfill", "--all")

    assert forced.exit_code == 0, forced.output
    assert _row(forced.stdout, "queued (no result yet)") == 2
    assert sorted(body["object_name"] for body in _deliver_queue(deployed, function)) == ["x.jpg", "y.png"]


def test_local_keeps_invoking_from_this_machine(cli, backfill_stack, function, photos):
    result = cli("backfill", "--prefix", "photos/", "--local", "--rate", "100")

    assert result.exit_code == 0, result.output
    assert sorted(function.invoked_keys()) == [
        "photos/b.JPG",
        "photos/c.png",
        "photos/e.Jpeg",
        "photos/f.PNG",
    ]
    assert (
        aws_client("stepfunctions").list_executions(stateMachineArn=backfill_stack.state_machine_arn)[
            "executions"
        ]
        == []
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--rate", "3"), "--rate and --max-concurrency pace --local; in the cloud the queue paces it"),
        (("--all",), "the cloud backfill always skips versions that have a result; to analyze every image "
                     "again, use --local --all"),
        (("backfill-20261126",), "EXECUTION names a backfill to follow: use it with --status"),
        (("--local", "--dry-run"),
         "--dry-run, --status and EXECUTION are for the cloud backfill (not with --local)"),
    ],
)  # fmt: skip
def test_options_that_do_not_apply_are_refused(cli, cloud, monkeypatch, args, message):
    cloud(with_machine=False)
    monkeypatch.setenv("CELEB_STACK", STACK)

    result = cli("backfill", *args)

    assert result.exit_code == 2
    assert error_lines(result.stderr) == [f"error: {message}"]


def test_stack_without_the_state_machine_backfills_locally_and_refuses_cloud_options(cli, function):
    from tests.client.celeb_testkit import deploy

    deployed = deploy("Plain")
    serve_stack(function, deployed)
    _put(CloudStack("Plain", deployed.bucket, deployed.table, "", "", ""), {"k.jpg": JPEG_BYTES})

    status = cli("--stack", "Plain", "backfill", "--status")
    local = cli("--stack", "Plain", "backfill", "--rate", "100")

    assert status.exit_code == 2
    assert error_lines(status.stderr) == [
        "error: --dry-run, --status and EXECUTION are for the cloud backfill: stack 'Plain' was deployed "
        "without it"
    ]
    assert local.exit_code == 0, local.output
    assert function.invoked_keys() == ["k.jpg"]
