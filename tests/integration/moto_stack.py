"""Builds the stack on a local moto server from the synthesized template, and runs the bundled
function against it in subprocesses. Shared by the integration tests and `bench/throughput_bench.py`.

The event path is the template's: the bucket publishes to moto's EventBridge, whose default bus
holds the template's rule (its pattern, with the bucket's name filled in) targeting the queue, so
an upload to moto S3 arrives in the queue the way it does in AWS.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote_plus

import boto3

from recognizer.contract import CELEBRITY_MARKER, IMAGE_PREFIX
from tests.handler.recognizer_testkit import png_bytes

# e.g. HARNESS_PROFILE="-m cProfile -o /tmp/drain.prof" to profile the function inside the harness.
PROFILE = os.environ.get("HARNESS_PROFILE", "").split()
RUNNER = Path(__file__).resolve().parent / "handler_runner.py"
REGION = "us-east-1"
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
ROOT = Path(__file__).resolve().parents[2]
SERVE = "from tests.integration.moto_stack import serve; serve()"  # run in ROOT


def serve() -> None:
    """The moto server's process (see `moto_server`): moto 5.2.5 with the patches below."""
    from moto.server import main

    from tests.handler.moto_transactions import install

    _encode_eventbridge_keys()
    _serialize_dynamodb()
    _faster_moto()
    # Transactions cost the same whatever the table's size (they deep-copy it otherwise).
    install()
    main(sys.argv[1:])


def _encode_eventbridge_keys() -> None:
    # S3 URL-encodes the object key of its EventBridge events as it does in its other notifications
    # ("red flower.jpg" arrives as "red+flower.jpg"; see the README), whereas moto 5.2.5 publishes
    # the raw key (moto/s3/notifications.py, _send_event_bridge_message: "key": key.name). Rules
    # match, and the function reads, the key the way AWS spells it.
    from moto.s3 import notifications

    publish = notifications._send_event_bridge_message

    def publish_encoded(account_id: str, bucket: Any, event_name: str, key: Any) -> None:
        publish(account_id, bucket, event_name, _EncodedKey(key))

    notifications._send_event_bridge_message = publish_encoded


class _EncodedKey:
    """An S3 object of moto's as its EventBridge event should name it."""

    def __init__(self, key: Any) -> None:
        self._key = key

    def __getattr__(self, name: str) -> Any:
        return getattr(self._key, name)

    @property
    def name(self) -> str:
        return encoded_key(self._key.name)


def _serialize_dynamodb() -> None:
    # moto 5.2.5 serves requests on threads, and its TransactWriteItems deep-copies each table it
    # writes (its rollback if one item fails) while other requests may change that table: the copy
    # then fails and the request ends in a 500. DynamoDB requests are served one at a time here.
    import threading

    from moto.dynamodb import responses

    lock = threading.Lock()
    call_action = responses.DynamoHandler.call_action

    def call_action_alone(handler: Any) -> Any:
        with lock:
            return call_action(handler)

    responses.DynamoHandler.call_action = call_action_alone  # type: ignore[method-assign]


def _faster_moto() -> None:
    # Three costs of moto 5.2.5 that grow with a burst, each replaced by the same answer, cheaper. A
    # burst of 500 uploads spent about 45 of the server's 65 CPU seconds in them.
    import functools
    import time

    from moto import backends
    from moto.sqs import models

    # SQS counts a queue's messages for every attribute asked, every message sent and every message
    # received, reading the clock through datetime arithmetic for each message: same instant, from
    # time.time(); moto's calls with a datetime argument keep the original.
    to_millis = models.unix_time_millis

    def unix_time_millis(dt: Any = None) -> float:
        return time.time() * 1000.0 if dt is None else to_millis(dt)

    models.unix_time_millis = unix_time_millis
    # ... and converts every attribute's name with regular expressions each time: the names are few.
    models.camelcase_to_underscores = functools.cache(models.camelcase_to_underscores)

    # ... and, for each message it hands out, reads the retention period through all the queue's
    # attributes (two counts of every message): same test, from the queue's own field.
    def retained(backend: Any, queue_name: str, message: Any) -> bool:
        period = int(backend.get_queue(queue_name).message_retention_period)
        return period + message.sent_timestamp / 1000 > time.time()

    models.SQSBackend.is_message_valid_based_on_retention_period = retained
    # Every request lists moto's package directory on disk to learn the service names.
    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules


_PNG = png_bytes(100, 100)


def unique_png(number: int) -> bytes:
    """A 100x100 PNG whose bytes differ for every `number` (a text chunk before IEND). The function
    reuses the analysis of identical bytes under another key, so a test that counts Rekognition
    calls per key needs one of these per upload."""
    text = b"Comment\x00" + str(number).encode()
    chunk = struct.pack(">I", len(text)) + b"tEXt" + text + struct.pack(">I", zlib.crc32(b"tEXt" + text))
    return _PNG[:-12] + chunk + _PNG[-12:]


def encoded_key(key: str) -> str:
    """An object key as S3 writes it into its events."""
    return quote_plus(key, safe="/")


@contextmanager
def moto_server() -> Iterator[str]:
    """`moto_server` on 127.0.0.1 in its own process (its own interpreter lock, so it does not
    compete with the test process), on a free port; stopped on exit."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-c", SERVE, "-H", "127.0.0.1", "-p", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto_server did not start on {url}") from None
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:  # werkzeug may wait on a lingering keep-alive connection
            server.kill()
            server.wait()


def function_properties(template: dict[str, Any]) -> dict[str, Any]:
    [function] = [
        r["Properties"] for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"].get("Handler") == "handler.lambda_handler"
    ]  # fmt: skip
    return function


def _resource(template: dict[str, Any], type_: str, logical_prefix: str) -> dict[str, Any]:
    [found] = [
        r["Properties"]
        for k, r in template["Resources"].items()
        if r["Type"] == type_ and k.startswith(logical_prefix)
    ]
    return found


def upload_rule(template: dict[str, Any]) -> dict[str, Any]:
    """The properties of the template's one EventBridge rule."""
    [rule] = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::Events::Rule"]
    return rule


def rule_pattern(template: dict[str, Any], bucket: str) -> dict[str, Any]:
    """The rule's event pattern with its reference to the images bucket replaced by `bucket`."""

    def resolve(node: Any) -> Any:
        if isinstance(node, dict) and set(node) == {"Ref"}:
            assert template["Resources"][node["Ref"]]["Type"] == "AWS::S3::Bucket", node
            return bucket
        if isinstance(node, dict):
            return {name: resolve(value) for name, value in node.items()}
        if isinstance(node, list):
            return [resolve(value) for value in node]
        return node

    return resolve(upload_rule(template)["EventPattern"])


@dataclass
class Pipeline:
    """The AWS side of one test run on moto: bucket, table (if the template has one), queues, rule."""

    moto_url: str
    rekognition_url: str
    template: dict[str, Any]
    bucket: str
    table: str | None
    queue_url: str
    dead_letter_queue_url: str
    delivery_dead_letter_queue_url: str
    rule_name: str
    visibility_timeout: int
    _clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        # Built once per service: a new client per upload would cost more than the upload.
        if service not in self._clients:
            self._clients[service] = boto3.client(
                service, region_name=REGION, endpoint_url=self.moto_url, **_lower(FAKE_CREDENTIALS)
            )
        return self._clients[service]

    def function_environment(self) -> dict[str, str]:
        """The variables the template gives the function, with its Ref to the table resolved."""
        variables = function_properties(self.template)["Environment"]["Variables"]
        resolved = {}
        for name, value in variables.items():
            if isinstance(value, dict):
                assert name == "RESULTS_TABLE_NAME" and self.table, f"unexpected unresolved variable {name}"
                value = self.table
            resolved[name] = value
        return resolved

    def process_environment(self) -> dict[str, str]:
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        return {
            **inherited,
            **FAKE_CREDENTIALS,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL_S3": self.moto_url,
            "AWS_ENDPOINT_URL_DYNAMODB": self.moto_url,
            "AWS_ENDPOINT_URL_SQS": self.moto_url,
            "AWS_ENDPOINT_URL_REKOGNITION": self.rekognition_url,
            **self.function_environment(),
        }

    def upload(self, key: str, body: bytes) -> str:
        return self.client("s3").put_object(Bucket=self.bucket, Key=key, Body=body)["VersionId"]

    def notification(self, key: str, version_id: str | None, size: int = 1000) -> str:
        """An S3 ObjectCreated notification body as S3 sends it (key URL-encoded)."""
        obj: dict[str, Any] = {"key": encoded_key(key), "size": size, "eTag": "0" * 32,
                               "sequencer": uuid.uuid4().hex[:16].upper()}  # fmt: skip
        if version_id:
            obj["versionId"] = version_id
        record = {
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": REGION,
            "eventTime": "2026-11-26T11:29:25.000Z", "eventName": "ObjectCreated:Put",
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "images",
                   "bucket": {"name": self.bucket, "arn": f"arn:aws:s3:::{self.bucket}"}, "object": obj},
        }  # fmt: skip
        return json.dumps({"Records": [record]})

    def take_bodies(self, count: int) -> list[str]:
        """The bodies of `count` queued messages, which stay queued (visible again at once)."""
        sqs = self.client("sqs")
        taken: list[dict[str, Any]] = []
        while len(taken) < count:
            batch = sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=min(10, count - len(taken)), VisibilityTimeout=60
            ).get("Messages", [])
            assert batch, f"only {len(taken)} of {count} messages were queued"
            taken += batch
        for start in range(0, len(taken), 10):
            sqs.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                    for i, m in enumerate(taken[start : start + 10])
                ],
            )
        return [m["Body"] for m in taken]

    def send(self, bodies: list[str]) -> None:
        sqs = self.client("sqs")
        for start in range(0, len(bodies), 10):
            chunk = bodies[start : start + 10]
            sqs.send_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "MessageBody": body} for i, body in enumerate(chunk)],
            )

    def queue_depth(self, queue_url: str) -> int:
        attributes = self.client("sqs").get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    def summaries(self, items: list[dict[str, Any]] | None = None) -> dict[str, list[dict[str, Any]]]:
        """The result (or recorded failure) items of each image key, without celebrity items, from
        `items` (a scan of the table when None)."""
        found: dict[str, list[dict[str, Any]]] = {}
        for item in self.items() if items is None else items:
            pk, sk = item["pk"]["S"], item["sk"]["S"]
            if pk.startswith(IMAGE_PREFIX) and CELEBRITY_MARKER not in sk:
                found.setdefault(pk.removeprefix(f"{IMAGE_PREFIX}{self.bucket}/"), []).append(item)
        return found

    def celebrity_items(self, items: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        return [
            i
            for i in (self.items() if items is None else items)
            if i["pk"]["S"].startswith(IMAGE_PREFIX) and CELEBRITY_MARKER in i["sk"]["S"]
        ]

    def items(self) -> list[dict[str, Any]]:
        assert self.table
        paginator = self.client("dynamodb").get_paginator("scan")
        return [item for page in paginator.paginate(TableName=self.table) for item in page["Items"]]


def _lower(credentials: dict[str, str]) -> dict[str, str]:
    return {"aws_access_key_id": credentials["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": credentials["AWS_SECRET_ACCESS_KEY"]}  # fmt: skip


def provision(
    moto_url: str, rekognition_url: str, template: dict[str, Any], *, visibility_timeout: int = 2
) -> Pipeline:
    """Creates the template's bucket, table, queues and upload rule on moto, each with a fresh name.

    The table, the queues and the rule take their key schema, indexes, redrive policies, event
    pattern, target dead-letter queue and retry policy from the template; only the visibility
    timeout is shortened, so that retried messages come back within a test. Every pipeline's rule
    sits on the one default bus of the moto server and selects its own bucket's uploads.

    The template's archive is left out: moto 5.2.5 cannot archive S3's events (its archive target
    reads an "archive-arn" that only events sent with PutEvents carry), and the error it raises
    stops the delivery of that event to every other rule on the server.
    """
    suffix = uuid.uuid4().hex[:8]
    session_args = {"region_name": REGION, "endpoint_url": moto_url, **_lower(FAKE_CREDENTIALS)}
    s3 = boto3.client("s3", **session_args)
    bucket = f"images-{suffix}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    bucket_props = _resource(template, "AWS::S3::Bucket", "StorageImages")
    if (
        bucket_props.get("NotificationConfiguration", {})
        .get("EventBridgeConfiguration", {})
        .get("EventBridgeEnabled")
    ):
        s3.put_bucket_notification_configuration(
            Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )

    table = None
    tables = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table"]
    if tables:
        props = tables[0]
        table = f"results-{suffix}"
        boto3.client("dynamodb", **session_args).create_table(
            TableName=table,
            KeySchema=props["KeySchema"],
            AttributeDefinitions=props["AttributeDefinitions"],
            BillingMode=props["BillingMode"],
            GlobalSecondaryIndexes=props["GlobalSecondaryIndexes"],
        )

    sqs = boto3.client("sqs", **session_args)
    queue_props = _resource(template, "AWS::SQS::Queue", "IngestionQueue")
    dlq_url = sqs.create_queue(QueueName=f"dlq-{suffix}")["QueueUrl"]
    dlq_arn = _queue_arn(sqs, dlq_url)
    redrive = {
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": queue_props["RedrivePolicy"]["maxReceiveCount"],
    }
    queue_url = sqs.create_queue(
        QueueName=f"uploads-{suffix}",
        Attributes={"VisibilityTimeout": str(visibility_timeout), "RedrivePolicy": json.dumps(redrive)},
    )["QueueUrl"]
    delivery_dlq_url = sqs.create_queue(
        QueueName=f"delivery-dlq-{suffix}", Attributes={"RedrivePolicy": json.dumps(redrive)}
    )["QueueUrl"]

    rule = upload_rule(template)
    [target] = rule["Targets"]
    rule_name = f"uploads-{suffix}"
    events = boto3.client("events", **session_args)
    events.put_rule(
        Name=rule_name, EventPattern=json.dumps(rule_pattern(template, bucket)), State=rule["State"]
    )
    events.put_targets(
        Rule=rule_name,
        Targets=[
            {
                "Id": target["Id"],
                "Arn": _queue_arn(sqs, queue_url),
                "DeadLetterConfig": {"Arn": _queue_arn(sqs, delivery_dlq_url)},
                "RetryPolicy": target["RetryPolicy"],
            }
        ],
    )
    return Pipeline(
        moto_url, rekognition_url, template, bucket, table, queue_url, dlq_url, delivery_dlq_url, rule_name,
        visibility_timeout,
    )  # fmt: skip


def _queue_arn(sqs: Any, queue_url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def function_python() -> str:
    """The interpreter the bundled function runs on: Lambda's Python when this machine has it.

    `make` builds `.venv/runtime` (the pinned boto3 only) from the newest of 3.14, 3.13 and 3.12 it
    finds; FUNCTION_TEST_PYTHON overrides; without either, the tests' own interpreter.
    """
    runtime = ROOT / ".venv" / "runtime" / "bin" / "python"
    return os.environ.get("FUNCTION_TEST_PYTHON") or (str(runtime) if runtime.exists() else sys.executable)


def runner_command(asset_dir: Path, *args: str) -> list[str]:
    # -B: Lambda's code folder is read-only, and bytecode must not leak into the asset under test.
    return [function_python(), "-I", "-B", *PROFILE, str(RUNNER), str(asset_dir), *args]


def invoke(pipeline: Pipeline, asset_dir: Path, events: list[Any]) -> list[dict[str, Any]]:
    """Invokes the bundled function once per event in one process (one warm container)."""
    done = subprocess.run(
        runner_command(asset_dir, "invoke", "--fast-backoff"),
        input="".join(json.dumps(e) + "\n" for e in events),
        env=pipeline.process_environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


@dataclass
class Drainer:
    """One runner process playing a concurrent invocation; its log lines go to a file, since a pipe
    nobody reads yet would fill up and stall every drainer but the one being waited for."""

    process: subprocess.Popen
    log: IO[str]


def start_drainers(
    pipeline: Pipeline, asset_dir: Path, processes: int, batch_size: int, until: Path | None = None
) -> list[Drainer]:
    """Drainer processes on the pipeline's queue; with `until`, they keep going through an empty
    queue until that file exists (create it when the uploads feeding the queue are done)."""
    drainers = []
    for _ in range(processes):
        log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed by wait_for)
        command = runner_command(
            asset_dir, "drain", pipeline.queue_url, "--batch-size", str(batch_size), "--fast-backoff",
            # A fallback only: drainers stop as soon as the queue is empty, in flight included.
            "--idle-seconds", str(pipeline.visibility_timeout + 30),
            *(["--until", str(until)] if until else []),
        )  # fmt: skip
        process = subprocess.Popen(
            command, env=pipeline.process_environment(), stdout=subprocess.PIPE, stderr=log, text=True
        )
        drainers.append(Drainer(process, log))
    return drainers


def wait_for(drainers: list[Drainer], timeout: float = 300) -> list[dict[str, Any]]:
    """Each drainer's statistics, once the queue has stayed empty for its idle window."""
    stats = []
    for drainer in drainers:
        out, _ = drainer.process.communicate(timeout=timeout)
        drainer.log.seek(0)
        assert drainer.process.returncode == 0, drainer.log.read()[-5000:]
        drainer.log.close()
        stats.append(json.loads(out.splitlines()[-1]))
    return stats
