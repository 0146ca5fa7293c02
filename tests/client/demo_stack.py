"""Run the client's test stack for a shell session, as recorded in docs/client-session.md.

    python -m tests.client.demo_stack ENV_FILE PHOTO_DIR     (from the repository root)

Starts a moto server (S3, DynamoDB, SQS, CloudFormation) and the Rekognition stub on 127.0.0.1,
creates the stacks `CelebrityRecognition` (with results table) and `CelebrityRecognitionNoTable`,
and serves their function over HTTP: the real function code (`recognizer.dispatch.handle`) in this
process, with each stack's function environment, behind a local Lambda Invoke endpoint. Puts images
in the bucket under `archive/` (two analyzed through the upload path, one with a recorded
ImageNotFoundError from a request made before its upload), writes a few files to PHOTO_DIR, and
writes the environment a shell needs to ENV_FILE. Runs until interrupted or killed, then prints how
many RecognizeCelebrities calls the stub answered. Nothing here talks to AWS.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path

import boto3
from moto.server import ThreadedMotoServer

from tests.client.celeb_testkit import KEYNOTE_FACES, deploy, function_environment
from tests.client.local_lambda import FunctionProcess, LocalLambda, serve_http
from tests.handler.recognizer_testkit import jpeg_bytes, png_bytes
from tests.integration.rekognition_stub import RekognitionStub

# About what RecognizeCelebrities takes for a photo, so progress and Ctrl-C look as they would.
REKOGNITION_LATENCY = 0.4

ARCHIVE = {
    "archive/2019/keynote.jpg": png_bytes(320, 240),
    "archive/2019/panel.PNG": png_bytes(320, 240),
    "archive/2019/press.jpg": jpeg_bytes(1024, 768),
    "archive/2020/launch.jpeg": jpeg_bytes(1024, 768),
    "archive/2020/visit.JPG": jpeg_bytes(800, 600),
    "archive/2020/award.png": png_bytes(200, 200),
    "archive/2021/interview.png": png_bytes(240, 180),
    "archive/2021/thumbnail.jpg": jpeg_bytes(40, 40),
    "archive/2021/stage.jpg": jpeg_bytes(1920, 1080),
    "archive/2021/lobby.JPEG": jpeg_bytes(640, 480),
    "archive/notes.txt": b"shot list\n",
}


def main(env_file: Path, photo_dir: Path) -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    # `kill` as well as Ctrl-C ends the session cleanly (a background job ignores SIGINT).
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with contextlib.ExitStack() as running:
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        moto.start()
        running.callback(moto.stop)
        host, port = moto.get_host_and_port()
        stub = running.enter_context(RekognitionStub(celebrities=KEYNOTE_FACES, latency=REKOGNITION_LATENCY))
        environment = {
            "AWS_ENDPOINT_URL": f"http://{host}:{port}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        }
        # This process only: the function's Rekognition client goes to the stub.
        os.environ.update(environment, AWS_ENDPOINT_URL_REKOGNITION=stub.url)

        stacks = [deploy("CelebrityRecognition"), deploy("CelebrityRecognitionNoTable", with_table=False)]
        functions = [
            LocalLambda(s.function_name, s.function_arn, function_environment(s.table)) for s in stacks
        ]
        FunctionProcess().start(functions[0].environ)
        for function in functions:
            running.enter_context(function.running())
        server = serve_http(*functions)
        running.callback(server.shutdown)
        environment["AWS_ENDPOINT_URL_LAMBDA"] = f"http://127.0.0.1:{server.server_address[1]}"
        prepare(stacks[0].bucket, functions[0], photo_dir)
        running.callback(lambda: print(f"Rekognition calls: {sum(stub.calls.values())}", flush=True))

        env_file.write_text("".join(f"export {name}={value}\n" for name, value in environment.items()))
        print(f"ready: source {env_file}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


def prepare(bucket: str, function: LocalLambda, photo_dir: Path) -> None:
    """The bucket's archive as the session finds it, and the local files it uploads."""
    # Asked for before its upload had finished: a recorded ImageNotFoundError, which may pass later.
    early = {"bucket": bucket, "object_name": "archive/2020/visit.JPG"}
    function.invoke(function.function_name, json.dumps(early).encode())
    s3 = boto3.client("s3")
    versions = {
        key: s3.put_object(Bucket=bucket, Key=key, Body=body)["VersionId"] for key, body in ARCHIVE.items()
    }
    # Analyzed before the session through the upload path (S3 -> EventBridge -> queue -> function).
    for key in ("archive/2019/keynote.jpg", "archive/2020/launch.jpeg"):
        function.deliver_upload(bucket, key, versions[key])
    function.calls.clear()

    photo_dir.mkdir(parents=True, exist_ok=True)
    (photo_dir / "reinvent-keynote.png").write_bytes(png_bytes(160, 120))
    (photo_dir / "team-offsite.png").write_bytes(png_bytes(160, 120))
    (photo_dir / "notes.jpg").write_text("not a photo, whatever the name says\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
