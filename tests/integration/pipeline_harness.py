"""Builds the pipeline on a local moto server from the synthesized template, and runs the bundled
function against it in subprocesses. Shared by the integration tests and `bench/throughput_bench.py`.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote_plus

import boto3

# e.g. HARNESS_PROFILE="-m cProfile -o /tmp/drain.prof" to profile the function inside the harness.
PROFILE = os.environ.get("HARNESS_PROFILE", "").split()
RUNNER = Path(__file__).resolve().parent / "handler_runner.py"
REGION = "us-east-1"
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@contextmanager
def moto_server() -> Iterator[str]:
    """`moto_server` on 127.0.0.1 in its own process (its own interpreter lock, so it does not
    compete with the test process), on a free port; stopped on exit."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
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


@dataclass
class Pipeline:
    """The AWS side of one test run: bucket, table (if the template has one), queue and DLQ on moto."""

    moto_url: str
    rekognition_url: str
    template: dict[str, Any]
    bucket: str
    table: str | None
    queue_url: str
    dead_letter_queue_url: str
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
        obj: dict[str, Any] = {"key": quote_plus(key, safe="/"), "size": size, "eTag": "0" * 32,
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
    """Creates the template's bucket, table and queues on moto, each with a fresh name.

    The table and the queues take their key schema, indexes and redrive policy from the template;
    only the visibility timeout is shortened, so that retried messages come back within a test.
    """
    suffix = uuid.uuid4().hex[:8]
    session_args = {"region_name": REGION, "endpoint_url": moto_url, **_lower(FAKE_CREDENTIALS)}
    s3 = boto3.client("s3", **session_args)
    bucket = f"images-{suffix}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})

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
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = {
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": queue_props["RedrivePolicy"]["maxReceiveCount"],
    }
    queue_url = sqs.create_queue(
        QueueName=f"uploads-{suffix}",
        Attributes={"VisibilityTimeout": str(visibility_timeout), "RedrivePolicy": json.dumps(redrive)},
    )["QueueUrl"]
    return Pipeline(
        moto_url, rekognition_url, template, bucket, table, queue_url, dlq_url, visibility_timeout
    )


def runner_command(asset_dir: Path, *args: str) -> list[str]:
    # -B: Lambda's code folder is read-only, and bytecode must not leak into the asset under test.
    return [sys.executable, "-I", "-B", *PROFILE, str(RUNNER), str(asset_dir), *args]


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


def start_drainers(pipeline: Pipeline, asset_dir: Path, processes: int, batch_size: int) -> list[Drainer]:
    drainers = []
    for _ in range(processes):
        log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed by wait_for)
        command = runner_command(
            asset_dir, "drain", pipeline.queue_url, "--batch-size", str(batch_size), "--fast-backoff",
            # A fallback only: drainers stop as soon as the queue is empty, in flight included.
            "--idle-seconds", str(pipeline.visibility_timeout + 30),
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
