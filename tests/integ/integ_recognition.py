"""Deployed integration test: `make integ` (README: Integration tests).

It deploys the app's own stack in dev mode (buckets and table are deleted with it) next to the
assertions' stack of `aws-cdk.integ-tests-alpha`, whose custom resources upload an image, wait for
the image version's result item in the results table and assert on it; a failed assertion fails
the deployment. Both stacks are destroyed afterwards. The image is a generated picture without a
face, which proves the whole path (EventBridge rule, queue, function, Rekognition, table) and
gives an empty result; `INTEG_CELEBRITY_IMAGE=path/to/photo.jpg` uploads a photo instead, and
`INTEG_CELEBRITY_NAME="Jeff Bezos"` then asserts that this celebrity was recognized in it.

An assertion can only send text to S3 (the assertion handler encodes string parameters as UTF-8),
so the image travels as a CDK file asset and the assertion copies it into the images bucket: S3
then publishes an `Object Created` event like any upload.

The file follows integ-runner's conventions (`integ_*.py`, an `IntegTest` and its integ.json), but
`make integ` drives it with the pinned CDK CLI: the newest integ-runner (2.197.10) reads cloud
assemblies up to schema 53, and aws-cdk-lib 2.275.0 writes schema 55. `make test` synthesizes it
offline and compares it with the committed snapshot, `integ_recognition.py.snapshot/`
(tests/integ/test_integ_snapshot.py); the snapshot names no account and no region. cdk-nag checks
this app as it checks the main one.
"""

from __future__ import annotations

import os
import struct
import tempfile
import zlib
from pathlib import Path
from typing import Any, NamedTuple

import aws_cdk as cdk
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import integ_tests_alpha as integ

from recognizer.contract import (
    PARTITION_KEY,
    SORT_KEY,
    ResultStatus,
    image_pk,
    is_image_key,
    summary_sk,
)
from stacks.app import base_context
from stacks.compliance import add_compliance_checks
from stacks.config import load_config
from stacks.recognition_stack import CelebrityRecognitionStack

STACK_NAME = "CelebrityRecognitionInteg"  # never the name of a user's own stack
# The assertions' own stack: integ-tests' handler functions, its waiter state machine.
ASSERTIONS = "RecognitionIntegAssertions"


def faceless_png(width: int = 160, height: int = 120) -> bytes:
    """A grey gradient: a real, decodable PNG of Rekognition's minimum size or more, without a face."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    rows = b"".join(b"\x00" + bytes((x + y) % 256 for x in range(width)) for y in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


class UploadImage(NamedTuple):
    path: Path
    key: str  # in the images bucket
    celebrity: str | None  # expected in it, if the user says so
    generated: bool  # the faceless picture: its result is known exactly


def upload_image() -> UploadImage:
    """The image to upload: INTEG_CELEBRITY_IMAGE, or the generated faceless picture."""
    photo = os.environ.get("INTEG_CELEBRITY_IMAGE")
    if photo:
        path = Path(photo).expanduser().resolve()
        key = f"integ/celebrity{path.suffix.lower()}"
        if not path.is_file() or not is_image_key(key):
            raise SystemExit(f"INTEG_CELEBRITY_IMAGE={photo!r}: expected a .jpg, .jpeg or .png file")
        return UploadImage(path, key, os.environ.get("INTEG_CELEBRITY_NAME") or None, generated=False)
    # Same bytes on every synthesis, so the asset (and the snapshot) stay the same.
    path = Path(tempfile.gettempdir()) / "celebrity-recognition-integ" / "faceless.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(faceless_png())
    return UploadImage(path, "integ/faceless.png", None, generated=True)


def expected_item(image: UploadImage) -> dict[str, Any]:
    """What the result item must contain (DynamoDB's typed JSON, as GetItem returns it)."""
    item: dict[str, Any] = {"status": {"S": str(ResultStatus.SUCCEEDED)}}
    if image.generated:
        item |= {"celebrity_count": {"N": "0"}, "celebrities": {"L": []}}
    elif image.celebrity is not None:
        named = integ.Match.object_like({"name": {"S": image.celebrity}})
        item["celebrities"] = {"L": integ.Match.array_with([{"M": named}])}
    return {"Item": item}


def build(outdir: str | None = None, *, bundle: bool = True) -> cdk.App:
    """The integration test's app; `outdir` None: CDK_OUTDIR, as the CLI sets it.

    The snapshot check passes `bundle=False`: the function's asset hash is taken from its source,
    so the template is the same without the pip install.
    """
    app = cdk.App(context=base_context(), outdir=outdir)
    if not bundle:
        app.node.set_context("aws:cdk:bundling-stacks", [])
    add_compliance_checks(app)
    # cdk.json's feature flags and any `-c` values, with a dev deployment under its own name.
    config = load_config({**app.node.get_all_context(), "deployment": "dev", "stack_name": STACK_NAME})
    # No env: the stack and the snapshot name no account or region.
    stack = CelebrityRecognitionStack(
        app, STACK_NAME, config=config, description="Integration test of the celebrity recognition pipeline"
    )
    assert stack.results_table is not None  # the default configuration has it

    assertions_stack = cdk.Stack(app, ASSERTIONS)
    test = integ.IntegTest(
        app,
        "Recognition",
        test_cases=[stack],
        # Asset hashes are not compared, and the committed snapshot holds no assets: the update
        # workflow (deploy the committed snapshot first, then this one) is off.
        diff_assets=False,
        stack_update_workflow=False,
        assertion_stack=assertions_stack,
    )

    image = upload_image()
    asset = s3_assets.Asset(assertions_stack, "Image", path=str(image.path))
    bucket, key = stack.images_bucket, image.key
    upload = test.assertions.aws_api_call(
        "S3",
        "copyObject",
        {
            "Bucket": bucket.bucket_name,
            "Key": key,
            "CopySource": f"{asset.s3_bucket_name}/{asset.s3_object_key}",
        },
        output_paths=["VersionId"],
    )
    # The handler's own statement names the API (s3:CopyObject), which is no IAM action: a copy
    # is authorized as a read of the source object and a write of the destination object.
    for action, resource in (
        ("s3:GetObject", asset.bucket.arn_for_objects(asset.s3_object_key)),
        ("s3:PutObject", bucket.arn_for_objects(key)),
    ):
        upload.provider.add_to_role_policy({"Effect": "Allow", "Action": [action], "Resource": [resource]})

    # The result of exactly the version uploaded, with the contract's key builders.
    version = upload.get_att_string("VersionId")
    result = test.assertions.aws_api_call(
        "DynamoDB",
        "getItem",
        {
            "TableName": stack.results_table.table_name,
            "Key": {
                PARTITION_KEY: {"S": image_pk(bucket.bucket_name, key)},
                SORT_KEY: {"S": summary_sk(version)},
            },
            "ConsistentRead": True,
        },
    )
    result.expect(integ.ExpectedResult.object_like(expected_item(image)))
    # EventBridge, the queue's batching window and Rekognition take seconds; a cold start more.
    result.wait_for_assertions(total_timeout=cdk.Duration.minutes(5), interval=cdk.Duration.seconds(10))
    upload.next(result)
    return app


if __name__ == "__main__":
    build().synth()
