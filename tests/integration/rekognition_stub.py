"""A local HTTP stand-in for Amazon Rekognition's RecognizeCelebrities (moto has none).

The function reaches it through AWS_ENDPOINT_URL_REKOGNITION, so the real botocore client, its
JSON protocol, its error parsing and its retry mode are all exercised. What it answers depends
on the object key, so one burst can mix outcomes:

- a key containing `noface`: no faces at all;
- `throttle-once`: ThrottlingException on the first call for that key, then a normal answer;
- `throttle-hard`: ThrottlingException on the first `hard_throttles` calls (more than the
  function's retry attempts), then a normal answer;
- `unreadable`: InvalidImageFormatException (Rekognition could not decode the bytes);
- `denied`: AccessDeniedException (the caller may not use Rekognition);
- anything else: `celebrities`, by default two celebrities and one unrecognized face.

`latency` (seconds) delays every answer, as the service would. Answers and errors have the
service's real shapes (botocore's model for RecognizeCelebrities;
tests/client checks the canned answers against it). `calls` counts the calls per key, `requests`
keeps every S3Object asked for, in order.
"""

from __future__ import annotations

import copy
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TARGET = "RekognitionService.RecognizeCelebrities"


def _face(left: float, confidence: float) -> dict[str, Any]:
    return {
        "BoundingBox": {"Width": 0.2, "Height": 0.3, "Left": left, "Top": 0.1},
        "Confidence": confidence,
        "Landmarks": [],
        "Pose": {"Roll": 0.0, "Yaw": 0.0, "Pitch": 0.0},
        "Quality": {"Brightness": 80.0, "Sharpness": 90.0},
    }


CELEBRITIES = {
    "CelebrityFaces": [
        {"Urls": ["www.wikidata.org/wiki/Q312556"], "Name": "Jeff Bezos", "Id": "1SK7cR8M",
         "Face": _face(0.1, 99.9), "MatchConfidence": 99.5, "KnownGender": {"Type": "Male"}},
        {"Urls": [], "Name": "Andy Jassy", "Id": "3Ir0du6", "Face": _face(0.5, 99.1),
         "MatchConfidence": 97.25, "KnownGender": {"Type": "Male"}},
    ],
    "UnrecognizedFaces": [_face(0.8, 95.0)],
}  # fmt: skip
NO_FACES: dict[str, Any] = {"CelebrityFaces": [], "UnrecognizedFaces": []}

# Key substring -> (error code, message), as Rekognition reports them.
ERRORS_BY_KEY = {
    "unreadable": ("InvalidImageFormatException", "Request has invalid image format"),
    "denied": (
        "AccessDeniedException",
        "User: arn:aws:sts::123456789012:assumed-role/recognizer is not authorized to perform: "
        "rekognition:RecognizeCelebrities",
    ),
}


class RekognitionStub:
    def __init__(
        self, *, hard_throttles: int = 5, celebrities: dict[str, Any] | None = None, latency: float = 0.0
    ) -> None:
        self.hard_throttles = hard_throttles
        self.latency = latency
        self._default_celebrities = copy.deepcopy(celebrities or CELEBRITIES)
        self.celebrities = copy.deepcopy(self._default_celebrities)
        self.calls: Counter[str] = Counter()
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        # X-Amz-Target -> answer(body): other analyses' tests register their operations here.
        self.operations: dict[str, Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]] = {
            TARGET: self.recognize_celebrities
        }
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
                time.sleep(stub.latency)
                status, payload = stub.answer(self.headers.get("X-Amz-Target", ""), body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
                if status >= 400:
                    self.send_header("x-amzn-ErrorType", payload["__type"])
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def reset(self) -> None:
        """Forget the calls and answer with the default celebrities again (between tests)."""
        with self._lock:
            self.calls.clear()
            self.requests.clear()
            self.celebrities = copy.deepcopy(self._default_celebrities)

    def answer(self, target: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        operation = self.operations.get(target)
        if operation is None:
            return 400, {"__type": "UnknownOperationException", "Message": target}
        return operation(body)

    def recognize_celebrities(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        s3_object = body.get("Image", {}).get("S3Object")
        if not isinstance(s3_object, dict) or not s3_object.get("Name"):
            return 400, {"__type": "InvalidParameterException", "Message": "Image.S3Object is required"}
        key = s3_object["Name"]
        with self._lock:
            self.calls[key] += 1
            self.requests.append(dict(s3_object))
            attempt = self.calls[key]
            celebrities = self.celebrities
        if ("throttle-once" in key and attempt == 1) or (
            "throttle-hard" in key and attempt <= self.hard_throttles
        ):
            return 400, {"__type": "ThrottlingException", "Message": "Rate exceeded"}
        for part, (code, message) in ERRORS_BY_KEY.items():
            if part in key:
                return 400, {"__type": code, "Message": message}
        return 200, NO_FACES if "noface" in key else celebrities

    def __enter__(self) -> RekognitionStub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
