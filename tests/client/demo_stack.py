"""Run the client's test stack for a shell session, as recorded in docs/client-session.md.

    python tests/client/demo_stack.py ENV_FILE PHOTO_DIR

Starts a moto server on 127.0.0.1 with the stacks `CelebrityRecognition` (with results table) and
`CelebrityRecognitionNoTable`, serves the stubbed function (FakeFunction) over HTTP, puts a few
images in the bucket under `archive/` (two of them already analyzed), writes small PNG files to
PHOTO_DIR, and writes the environment a shell needs to ENV_FILE. Runs until interrupted.
Everything stays on this machine: nothing here talks to AWS.
"""

from __future__ import annotations

import logging
import os
import struct
import sys
import threading
import zlib
from pathlib import Path

from celeb_testkit import FakeFunction, analyze, deploy, serve_http
from moto.server import ThreadedMotoServer


def png(width: int, height: int, shade: int) -> bytes:
    """A real, tiny PNG (a gradient), so `file` and image viewers accept it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(
        b"\x00" + bytes((x * 2 + shade) % 256 for x in range(width) for _ in range(3)) for _ in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def main(env_file: Path, photo_dir: Path) -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    environment = {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }
    os.environ.update(environment)

    stack = deploy("CelebrityRecognition")
    deploy("CelebrityRecognitionNoTable", with_table=False)
    fake = FakeFunction(stack, delay=0.4)
    function = serve_http(fake)
    environment["AWS_ENDPOINT_URL_LAMBDA"] = f"http://127.0.0.1:{function.server_address[1]}"

    import boto3

    s3 = boto3.client("s3")
    archive = [
        f"archive/{year}/{name}"
        for year, names in {
            "2019": ("keynote.jpg", "panel.PNG", "press.jpg"),
            "2020": ("launch.jpeg", "visit.JPG", "award.png"),
            "2021": ("interview.png", "thumbnail.jpg", "stage.jpg", "lobby.JPEG"),
        }.items()
        for name in names
    ]
    for number, key in enumerate([*archive, "archive/notes.txt"]):
        s3.put_object(Bucket=stack.bucket, Key=key, Body=png(120, 120, number * 20))
    # Analyzed before the session, as the S3 event path would have done.
    for key in ("archive/2019/keynote.jpg", "archive/2020/launch.jpeg"):
        analyze(fake, key)
    fake.errors["archive/2021/thumbnail.jpg"] = (
        "ImageTooSmallError",
        "The image is 40x40 px; Rekognition needs at least 80 px per side",
    )

    photo_dir.mkdir(parents=True, exist_ok=True)
    (photo_dir / "reinvent-keynote.png").write_bytes(png(160, 120, 10))
    (photo_dir / "team-offsite.png").write_bytes(png(160, 120, 90))
    (photo_dir / "notes.jpg").write_text("not a photo, whatever the name says\n")

    env_file.write_text("".join(f"export {name}={value}\n" for name, value in environment.items()))
    print(f"ready: source {env_file}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        function.shutdown()
        moto.stop()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
