"""Fakes and helpers for the client tests and the recorded session: the stack in moto, the function stubbed.

moto serves S3, DynamoDB and CloudFormation, but invoking a Lambda function in moto needs Docker,
so `FakeFunction` answers the invocations instead: it returns the function's real payload shapes
and writes the results table items the real handler writes (the schema in stacks/results_table.py).
It is wired in at the botocore level (`install_before_send`) for the tests, or served over HTTP
(`serve_http`, via AWS_ENDPOINT_URL_LAMBDA) for a shell session.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

import boto3
from boto3.dynamodb.types import TypeSerializer
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

DEFAULT_STACK = "CelebrityRecognition"

# What Rekognition's RecognizeCelebrities gives for a photo of two well-known people, as the
# function reshapes it (names, ids and boxes as Rekognition reports them; confidences 0-100).
TWO_CELEBRITIES: list[dict[str, Any]] = [
    {
        "name": "Jeff Bezos",
        "id": "1SK7cR8M",
        "confidence": 99.9981,
        "face_confidence": 99.9997,
        "urls": ["www.wikidata.org/wiki/Q312556", "www.imdb.com/name/nm1757263"],
        "known_gender": "Male",
        "bounding_box": {"width": 0.1906, "height": 0.3847, "left": 0.1425, "top": 0.1702},
    },
    {
        "name": "Andy Jassy",
        "id": "3Ir0du6",
        "confidence": 98.7415,
        "face_confidence": 99.9912,
        "urls": [],
        "known_gender": "Male",
        "bounding_box": {"width": 0.1751, "height": 0.3531, "left": 0.6214, "top": 0.2048},
    },
]

JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Enough for every check the client and the fake make: they only read the leading bytes.
JPEG_BYTES = JPEG_MAGIC + b"\xe0" + b"\x00" * 64
PNG_BYTES = PNG_MAGIC + b"\x00" * 64


def stack_template(*, with_table: bool = True, omit: tuple[str, ...] = ()) -> str:
    """A small stack with the real stack's output keys, pointing at real moto resources."""
    resources: dict[str, Any] = {
        "Images": {
            "Type": "AWS::S3::Bucket",
            "Properties": {"VersioningConfiguration": {"Status": "Enabled"}},
        },
        "Role": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            },
        },
        "Recognizer": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Runtime": "python3.13",
                "Handler": "index.handler",
                "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                # Never run: moto would need Docker. The invocations are answered by FakeFunction.
                "Code": {"ZipFile": "def handler(event, context):\n    raise NotImplementedError\n"},
            },
        },
    }
    outputs: dict[str, Any] = {
        "ImagesBucketName": {"Value": {"Ref": "Images"}},
        "FunctionName": {"Value": {"Ref": "Recognizer"}},
        "FunctionArn": {"Value": {"Fn::GetAtt": ["Recognizer", "Arn"]}},
    }
    if with_table:
        resources["Results"] = {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [
                    {"AttributeName": name, "AttributeType": "S"}
                    for name in ("pk", "sk", "celebrity_name", "image_ref")
                ],
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                "GlobalSecondaryIndexes": [
                    {
                        "IndexName": "by-celebrity",
                        "KeySchema": [
                            {"AttributeName": "celebrity_name", "KeyType": "HASH"},
                            {"AttributeName": "image_ref", "KeyType": "RANGE"},
                        ],
                        "Projection": {"ProjectionType": "ALL"},
                    }
                ],
            },
        }
        outputs["ResultsTableName"] = {"Value": {"Ref": "Results"}}
    for key in omit:
        outputs.pop(key, None)
    return json.dumps({"Resources": resources, "Outputs": outputs})


@dataclass(frozen=True)
class Deployed:
    stack_name: str
    bucket: str
    function_name: str
    table: str | None


def deploy(
    stack_name: str = DEFAULT_STACK, *, with_table: bool = True, omit: tuple[str, ...] = ()
) -> Deployed:
    """Create the stack in moto (uses the AWS_* environment) and return its resources' names."""
    cloudformation = boto3.client("cloudformation")
    cloudformation.create_stack(
        StackName=stack_name,
        TemplateBody=stack_template(with_table=with_table, omit=omit),
        Capabilities=["CAPABILITY_IAM"],
    )
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    resources = {
        item["LogicalResourceId"]: item["PhysicalResourceId"]
        for item in cloudformation.describe_stack_resources(StackName=stack_name)["StackResources"]
    }
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack["StackStatus"]
    # moto's CloudFormation ignores VersioningConfiguration; the real bucket is versioned.
    boto3.client("s3").put_bucket_versioning(
        Bucket=resources["Images"], VersioningConfiguration={"Status": "Enabled"}
    )
    return Deployed(
        stack_name=stack_name,
        bucket=resources["Images"],
        function_name=resources["Recognizer"],
        table=resources.get("Results"),
    )


@dataclass(frozen=True)
class Invocation:
    function_name: str
    bucket: str
    key: str
    version_id: str | None = None


@dataclass(frozen=True)
class FakeResponse:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeFunction:
    """Answers invocations like the deployed function, and records them."""

    deployed: Deployed
    # key -> (errorType, errorMessage) the function reports for it.
    errors: dict[str, tuple[str, str]] = field(default_factory=dict)
    # Lambda itself refuses every invoke with 429 TooManyRequestsException.
    throttle: bool = False
    delay: float = 0.0
    on_invoke: Callable[[Invocation], None] | None = None
    calls: list[Invocation] = field(default_factory=list)
    peak_in_flight: int = 0
    _in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        # Created up front, in one thread: the handler runs on the client's worker threads.
        self._s3 = boto3.client("s3")
        self._dynamodb = boto3.client("dynamodb")

    def invoked_keys(self) -> list[str]:
        with self._lock:
            return [call.key for call in self.calls]

    def handle(self, function_name: str, payload: bytes) -> FakeResponse:
        event = json.loads(payload)
        call = Invocation(function_name, event["bucket"], event["object_name"], event.get("version_id"))
        with self._lock:
            self.calls.append(call)
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
        try:
            if self.on_invoke is not None:
                self.on_invoke(call)
            if self.delay:
                time.sleep(self.delay)
            return self._answer(call)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _answer(self, call: Invocation) -> FakeResponse:
        if call.function_name not in (self.deployed.function_name, self._arn()):
            return _lambda_error(
                404, "ResourceNotFoundException", f"Function not found: {call.function_name}"
            )
        if self.throttle:
            return _lambda_error(429, "TooManyRequestsException", "Rate Exceeded.")
        try:
            head = self._s3.get_object(Bucket=call.bucket, Key=call.key, Range="bytes=0-7")
        except ClientError:
            return self._fail(
                call, None, "ImageNotFoundError", f"s3://{call.bucket}/{call.key} does not exist"
            )
        version = head.get("VersionId")
        if call.key in self.errors:
            return self._fail(call, version, *self.errors[call.key])
        leading = head["Body"].read()
        if not leading.startswith((JPEG_MAGIC, PNG_MAGIC)):
            return self._fail(call, version, "UnsupportedImageFormatError", "the image is not a JPEG or PNG")
        result = {
            "bucket": call.bucket,
            "key": call.key,
            "version_id": version,
            "celebrities": TWO_CELEBRITIES,
            "unrecognized_faces": 1,
            "analyzed_at": _now(),
        }
        self._store_success(result)
        return FakeResponse(200, {"Content-Type": "application/json"}, json.dumps(result).encode())

    def _arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.deployed.function_name}"

    def _fail(self, call: Invocation, version: str | None, error_type: str, message: str) -> FakeResponse:
        self._put(
            _summary_key(call.bucket, call.key, version)
            | {
                "bucket": call.bucket,
                "key": call.key,
                "version_id": version,
                "status": "FAILED",
                "analyzed_at": _now(),
                "celebrity_count": 0,
                "unrecognized_faces": 0,
                "celebrities": [],
                "error_type": error_type,
                "error_message": message,
            }
        )
        body = json.dumps({"errorType": error_type, "errorMessage": message, "stackTrace": []}).encode()
        return FakeResponse(
            200, {"Content-Type": "application/json", "X-Amz-Function-Error": "Unhandled"}, body
        )

    def _store_success(self, result: dict[str, Any]) -> None:
        bucket, key, version = result["bucket"], result["key"], result["version_id"]
        summary = _summary_key(bucket, key, version) | {
            "bucket": bucket,
            "key": key,
            "version_id": version,
            "status": "SUCCEEDED",
            "analyzed_at": result["analyzed_at"],
            "celebrity_count": len(result["celebrities"]),
            "unrecognized_faces": result["unrecognized_faces"],
            "celebrities": result["celebrities"],
        }
        self._put(summary)
        for celebrity in result["celebrities"]:
            self._put(
                {
                    "pk": summary["pk"],
                    "sk": f"{summary['sk']}#CELEBRITY#{celebrity['id']}",
                    "celebrity_name": celebrity["name"],
                    "celebrity_id": celebrity["id"],
                    "image_ref": f"{bucket}/{key}#{version or 'null'}",
                    "bucket": bucket,
                    "key": key,
                    "version_id": version,
                    "confidence": celebrity["confidence"],
                    "analyzed_at": result["analyzed_at"],
                }
            )

    def _put(self, item: dict[str, Any]) -> None:
        if self.deployed.table is None:
            return
        self._dynamodb.put_item(TableName=self.deployed.table, Item=serialize(item))


def serialize(item: dict[str, Any]) -> dict[str, Any]:
    """A plain dict as a DynamoDB item, numbers as Decimal (as the handler stores them)."""
    serializer = TypeSerializer()
    return {name: serializer.serialize(_decimals(value)) for name, value in item.items()}


def _decimals(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {key: _decimals(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decimals(item) for item in value]
    return value


def _summary_key(bucket: str, key: str, version: str | None) -> dict[str, str]:
    return {"pk": f"IMAGE#{bucket}/{key}", "sk": f"VERSION#{version or 'null'}"}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _lambda_error(status: int, code: str, message: str) -> FakeResponse:
    headers = {"Content-Type": "application/json", "x-amzn-ErrorType": code}
    return FakeResponse(status, headers, json.dumps({"Type": "User", "message": message}).encode())


def _function_name(url: str) -> str:
    # POST /2015-03-31/functions/{FunctionName}/invocations, the name URL-quoted (ARNs have ':').
    path = urlsplit(url).path
    return unquote(path.split("/functions/", 1)[1].rsplit("/invocations", 1)[0])


class _RawBody(io.BytesIO):
    """What botocore reads a response from: `read()` for streamed payloads, `stream()` otherwise."""

    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        yield self.getvalue()


def install_before_send(session: boto3.Session, fake: FakeFunction) -> None:
    """Answer the session's lambda Invoke calls with `fake`, after botocore built and signed them.

    `before-send` sits below botocore's retry loop, so a 429 here is retried like a real one.
    """

    def before_send(request: Any, **kwargs: Any) -> AWSResponse:
        body = request.body if isinstance(request.body, bytes) else request.body.read()
        answer = fake.handle(_function_name(request.url), body)
        return AWSResponse(request.url, answer.status, answer.headers, _RawBody(answer.body))

    session.events.register("before-send.lambda.Invoke", before_send)


def serve_http(fake: FakeFunction, port: int = 0) -> ThreadingHTTPServer:
    """Serve the Lambda Invoke API on 127.0.0.1, for AWS_ENDPOINT_URL_LAMBDA in a shell session."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            answer = fake.handle(_function_name(self.path), body)
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def assert_one_error_line(stderr: str, *fragments: str) -> None:
    """One `error: ...` line holding every fragment, and no traceback."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, stderr)
    assert "Traceback" not in stderr


def error_lines(stderr: str) -> list[str]:
    """The `error:` lines of stderr (backfill also draws its progress bar there)."""
    assert "Traceback" not in stderr
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def analyze(fake: FakeFunction, key: str) -> None:
    """Have the fake function analyze an object already in the bucket, as the S3 event path would."""
    payload = json.dumps({"bucket": fake.deployed.bucket, "object_name": key}).encode()
    fake.handle(fake.deployed.function_name, payload)
