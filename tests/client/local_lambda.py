"""A local AWS Lambda endpoint that runs the real function, `recognizer.dispatch.handle`, in this process.

moto runs Lambda functions only in Docker, and a hand-written imitation of the handler would let
the client pass against data the function never writes. So the function's own code answers, with
the deployed function's environment, against the moto server (S3, DynamoDB) and the Rekognition
stub that the process environment points its clients at (AWS_ENDPOINT_URL,
AWS_ENDPOINT_URL_REKOGNITION).

Only what the Lambda *service* does is emulated here, not anything the function does: finding the
function by name or ARN (404 ResourceNotFoundException), refusing invocations when throttled (429
TooManyRequestsException), counting concurrent executions, handing the handler a context, turning
a raised exception into `X-Amz-Function-Error: Unhandled` with `{"errorType", "errorMessage"}`, and
keeping the function's log records away from the caller (Lambda sends them to CloudWatch Logs).

Two wirings: `install_before_send` answers one boto3 session's Invoke calls below botocore's retry
loop (the tests); `serve_http` serves the Invoke API on 127.0.0.1 for AWS_ENDPOINT_URL_LAMBDA
(tests/client/demo_stack.py). `deliver_upload` is the other way in: an upload's event, delivered
through the queue as the stack's EventBridge rule and event source mapping do.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote_plus, unquote, urlsplit

import boto3
from botocore.awsrequest import AWSResponse

from recognizer import clients
from recognizer.contract import OBJECT_CREATED, S3_EVENT_SOURCE
from recognizer.dispatch import handle
from recognizer.settings import load_settings

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account


@dataclass(frozen=True)
class Invocation:
    """One Invoke request as the service received it (throttled and refused ones too)."""

    function_name: str
    bucket: str | None
    key: str | None
    version_id: str | None


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class LambdaContext:
    """The attributes of the Python runtime's context object that a handler may read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    deadline: float  # time.monotonic() at which the function would time out
    aws_request_id: str
    function_version: str = "$LATEST"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


class LocalLambda:
    """The Lambda service for one deployed function whose code is this process's `recognizer`."""

    def __init__(
        self,
        function_name: str,
        function_arn: str,
        environ: Mapping[str, str],
        *,
        timeout_seconds: int = 60,
        memory_mb: int = 256,
    ) -> None:
        self.function_name = function_name
        self.function_arn = function_arn
        self.environ = dict(environ)
        self.timeout_seconds = timeout_seconds
        self.memory_mb = memory_mb
        # Service-side knobs of a test: refuse every Invoke with 429; run a hook inside each execution.
        self.throttle = False
        self.on_invoke: Callable[[Invocation], None] | None = None
        self.calls: list[Invocation] = []
        self.peak_in_flight = 0
        self.log_records: list[logging.LogRecord] = []
        self._in_flight = 0
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)

    # The function's logs

    @contextmanager
    def running(self) -> Iterator[LocalLambda]:
        """The function's log records collected for the duration; on exit, no execution in flight."""
        collector = _Collector(self.log_records)
        root = logging.getLogger()
        root.addHandler(collector)
        try:
            yield self
        finally:
            # An execution a test abandoned (a second Ctrl-C) must not outlive the test's moto state.
            self.wait_idle()
            root.removeHandler(collector)

    def wait_idle(self, timeout: float = 30) -> None:
        """Until no execution is in flight."""
        with self._idle:
            if not self._idle.wait_for(lambda: self._in_flight == 0, timeout):
                raise TimeoutError(f"{self._in_flight} execution(s) still running after {timeout} s")

    # The Invoke API

    def invoked_keys(self) -> list[str | None]:
        with self._lock:
            return [call.key for call in self.calls]

    def invoke(
        self, function_name: str, payload: bytes, invocation_type: str = "RequestResponse"
    ) -> HttpAnswer:
        try:
            event = json.loads(payload or b"{}")
        except ValueError:
            return _service_error(
                400, "InvalidRequestContentException", "Could not parse request body into json"
            )
        direct = event if isinstance(event, dict) else {}
        call = Invocation(
            function_name, direct.get("bucket"), direct.get("object_name"), direct.get("version_id")
        )
        with self._lock:
            self.calls.append(call)
        if function_name not in (self.function_name, self.function_arn):
            arn = function_name if function_name.startswith("arn:") else self._arn_of(function_name)
            return _service_error(404, "ResourceNotFoundException", f"Function not found: {arn}")
        if invocation_type != "RequestResponse":
            return _service_error(400, "InvalidParameterValueException", f"unsupported {invocation_type}")
        if self.throttle:
            return _service_error(
                429, "TooManyRequestsException", "Rate Exceeded.", Reason="CallerRateLimitExceeded"
            )
        with self._executing():
            if self.on_invoke is not None:
                self.on_invoke(call)
            return self._run(event)

    def _run(self, event: Any) -> HttpAnswer:
        context = self._context()
        headers = {"Content-Type": "application/json", "X-Amz-Executed-Version": "$LATEST",
                   "x-amzn-RequestId": context.aws_request_id}  # fmt: skip
        failed = headers | {"X-Amz-Function-Error": "Unhandled"}
        try:
            result = handle(event, context, environ=self.environ)
        except Exception as exc:  # the Python runtime's answer for any exception the handler raises
            error = {
                "errorMessage": str(exc),
                "errorType": type(exc).__name__,
                "requestId": context.aws_request_id,
                "stackTrace": traceback.format_tb(exc.__traceback__),
            }
            return HttpAnswer(200, failed, json.dumps(error).encode())
        try:
            return HttpAnswer(200, headers, json.dumps(result).encode())
        except (TypeError, ValueError) as exc:  # what the runtime says of a result JSON cannot hold
            error = {
                "errorMessage": f"Unable to marshal response: {exc}",
                "errorType": "Runtime.MarshalError",
                "requestId": context.aws_request_id,
                "stackTrace": [],
            }
            return HttpAnswer(200, failed, json.dumps(error).encode())

    @contextmanager
    def _executing(self) -> Iterator[None]:
        with self._lock:
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1
                self._idle.notify_all()

    def _context(self) -> LambdaContext:
        return LambdaContext(
            function_name=self.function_name,
            invoked_function_arn=self.function_arn,
            memory_limit_in_mb=self.memory_mb,
            deadline=time.monotonic() + self.timeout_seconds,
            aws_request_id=str(uuid.uuid4()),
        )

    def _arn_of(self, name: str) -> str:
        return self.function_arn.rsplit(":", 1)[0] + ":" + name

    # The upload path (S3 -> EventBridge rule -> queue -> event source mapping)

    def deliver_upload(
        self, bucket: str, key: str, version_id: str | None, size: int = 1000
    ) -> dict[str, Any]:
        """Run the function on an upload's event, as the stack's rule queues it and the queue's event
        source mapping delivers it (a batch of one message).

        Not an Invoke call: it is not counted in `calls`. Returns the handler's answer (the
        batch's `batchItemFailures`).
        """
        body = json.dumps(s3_object_created_event(bucket, key, version_id, size))
        message = {
            "messageId": str(uuid.uuid4()),
            "receiptHandle": uuid.uuid4().hex,
            "body": body,
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": str(int(time.time() * 1000))},
            "messageAttributes": {},
            "md5OfBody": hashlib.md5(body.encode()).hexdigest(),
            "eventSource": "aws:sqs",
            "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:uploads",
            "awsRegion": REGION,
        }
        with self._executing():
            return handle({"Records": [message]}, self._context(), environ=self.environ)


def s3_object_created_event(bucket: str, key: str, version_id: str | None, size: int) -> dict[str, Any]:
    """S3's `Object Created` event on EventBridge, as the upload rule matches it.

    S3 URL-encodes the key in its events ("red flower.jpg" arrives as "red+flower.jpg"; see
    tests/integration/moto_stack.py).
    """
    s3_object: dict[str, Any] = {"key": quote_plus(key, safe="/"), "size": size, "etag": "0" * 32,
                                 "sequencer": uuid.uuid4().hex[:16].upper()}  # fmt: skip
    if version_id:
        s3_object["version-id"] = version_id
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": OBJECT_CREATED,
        "source": S3_EVENT_SOURCE,
        "account": ACCOUNT,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": REGION,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {"version": "0", "bucket": {"name": bucket}, "object": s3_object,
                   "request-id": uuid.uuid4().hex[:16].upper(), "requester": ACCOUNT, "reason": "PutObject"},
    }  # fmt: skip


class FunctionProcess:
    """What the function's code keeps per process: its boto3 clients (`recognizer.clients`).

    The cache is process-wide, and other tests in this process point it elsewhere (moto's
    in-process mock), so it is forgotten when this starts and when it stops. The clients are built
    in `start`, in the calling thread, because building boto3 clients is not thread-safe and the
    executions run on the CLI's (or the HTTP server's) threads. They read their endpoints and
    credentials from the process environment then.
    """

    def __init__(self, session: boto3.Session | None = None) -> None:
        self._session = session
        self._started = False

    def start(self, environ: Mapping[str, str]) -> None:
        if self._started:
            return
        clients.reset_clients()
        clients.use_session(self._session or boto3.Session())
        clients.s3()
        clients.dynamodb()
        clients.rekognition(load_settings(environ))
        self._started = True

    def stop(self) -> None:
        clients.reset_clients()
        self._started = False


class _Collector(logging.Handler):
    """Keeps the function's log records, as CloudWatch Logs would, instead of printing them."""

    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__()
        self._records = records

    def emit(self, record: logging.LogRecord) -> None:
        self._records.append(record)


def _service_error(status: int, code: str, message: str, **extra: str) -> HttpAnswer:
    headers = {
        "Content-Type": "application/json",
        "x-amzn-ErrorType": code,
        "x-amzn-RequestId": str(uuid.uuid4()),
    }
    return HttpAnswer(status, headers, json.dumps({"Type": "User", "message": message, **extra}).encode())


def _invoke_request(url: str, headers: Mapping[str, str]) -> tuple[str, str]:
    """Function name (URL-quoted in the path; ARNs have ':') and invocation type of an Invoke request."""
    # POST /2015-03-31/functions/{FunctionName}/invocations
    path = urlsplit(url).path
    name = unquote(path.split("/functions/", 1)[1].rsplit("/invocations", 1)[0])
    invocation_type = headers.get("X-Amz-Invocation-Type") or "RequestResponse"
    # botocore's prepared requests carry header values as bytes; http.server's as str.
    return name, invocation_type.decode() if isinstance(invocation_type, bytes) else invocation_type


class _RawBody(io.BytesIO):
    """What botocore reads a response from: `read()` for streamed payloads, `stream()` otherwise."""

    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        yield self.getvalue()


def install_before_send(session: boto3.Session, local: LocalLambda) -> None:
    """Answer the session's Lambda Invoke calls with `local`, after botocore built and signed them.

    `before-send` sits below botocore's retry loop, so a 429 here is retried like a real one.
    """

    def before_send(request: Any, **kwargs: Any) -> AWSResponse:
        body = request.body if isinstance(request.body, bytes) else request.body.read()
        name, invocation_type = _invoke_request(request.url, request.headers)
        answer = local.invoke(name, body, invocation_type)
        return AWSResponse(request.url, answer.status, answer.headers, _RawBody(answer.body))

    session.events.register("before-send.lambda.Invoke", before_send)


def serve_http(*functions: LocalLambda, port: int = 0) -> ThreadingHTTPServer:
    """Serve the Lambda Invoke API for `functions` on 127.0.0.1, for AWS_ENDPOINT_URL_LAMBDA in a
    shell session. A name none of them has is answered by the first, with its 404."""

    def function_named(name: str) -> LocalLambda:
        return next((f for f in functions if name in (f.function_name, f.function_arn)), functions[0])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            name, invocation_type = _invoke_request(self.path, self.headers)
            answer = function_named(name).invoke(name, body, invocation_type)
            self.send_response(answer.status)
            for header, value in answer.headers.items():
                self.send_header(header, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
