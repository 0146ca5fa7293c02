"""The client tests' stack in moto, the deployed function's environment, test data and assertions.

moto serves S3, DynamoDB, SQS and CloudFormation. The stack is a small CloudFormation template with
the real stack's outputs (the contract's `StackOutput`) and its results table's key schema (the
contract's names); `test_contract.py` checks both against the synthesized stack. The function
itself is the real one, run by `local_lambda.LocalLambda`.
"""

from __future__ import annotations

import functools
import json
import uuid
from dataclasses import dataclass
from typing import Any

import boto3
from boto3.dynamodb.types import TypeSerializer

from recognizer.contract import (
    CELEBRITY_INDEX,
    CELEBRITY_INDEX_PARTITION_KEY,
    CELEBRITY_INDEX_SORT_KEY,
    ENV_RESULTS_TABLE,
    FUNCTION_SETTINGS,
    PARTITION_KEY,
    SETTINGS_BY_KEY,
    SORT_KEY,
    Celebrity,
    StackOutput,
)
from tests.client.local_lambda import ACCOUNT, REGION, LocalLambda
from tests.handler.recognizer_testkit import celebrities_response, celebrity_face, jpeg_bytes, png_bytes

DEFAULT_STACK: str = SETTINGS_BY_KEY["stack_name"].default

# Big enough for the function's checks (magic bytes, at least 80 px a side read from the header).
JPEG_BYTES = jpeg_bytes(640, 480)
PNG_BYTES = png_bytes(120, 100)
TOO_SMALL_JPEG = jpeg_bytes(40, 40)
GIF_BYTES = b"GIF89a\x10\x00\x10\x00\x80\x00\x00"


def _keynote_faces() -> dict[str, Any]:
    """RecognizeCelebrities' answer for a keynote photo: two celebrities, one unknown face."""
    bezos = celebrity_face("Jeff Bezos", "1SK7cR8M", 99.9981, face_confidence=99.9997,
                           box=(0.1906, 0.3847, 0.1425, 0.1702))  # fmt: skip
    bezos["Urls"] = ["www.wikidata.org/wiki/Q312556", "www.imdb.com/name/nm1757263"]
    jassy = celebrity_face("Andy Jassy", "3Ir0du6", 98.7415, face_confidence=99.9912,
                           box=(0.1751, 0.3531, 0.6214, 0.2048))  # fmt: skip
    jassy["Urls"] = []
    # Rekognition does not sort by confidence; the function does.
    return celebrities_response(jassy, bezos, unrecognized=1)


KEYNOTE_FACES = _keynote_faces()
# What the function's result holds for KEYNOTE_FACES, in the contract's Celebrity shape.
TWO_CELEBRITIES: list[Celebrity] = [
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


def results_table_properties() -> dict[str, Any]:
    """The results table's schema, spelled with the contract's names."""
    key_names = (PARTITION_KEY, SORT_KEY, CELEBRITY_INDEX_PARTITION_KEY, CELEBRITY_INDEX_SORT_KEY)
    return {
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": name, "AttributeType": "S"} for name in key_names],
        "KeySchema": [
            {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": CELEBRITY_INDEX,
                "KeySchema": [
                    {"AttributeName": CELEBRITY_INDEX_PARTITION_KEY, "KeyType": "HASH"},
                    {"AttributeName": CELEBRITY_INDEX_SORT_KEY, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    }


def stack_template(
    function_name: str = "Recognizer", *, with_table: bool = True, omit: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A small stack with the real stack's outputs, pointing at real moto resources.

    The function is only a name here: moto would run it in Docker, so LocalLambda answers for it
    (and creating a role and a function in moto would cost each test more than it tests).
    """
    resources: dict[str, Any] = {
        "Images": {
            "Type": "AWS::S3::Bucket",
            "Properties": {"VersioningConfiguration": {"Status": "Enabled"}},
        },
        "DeadLetterQueue": {"Type": "AWS::SQS::Queue"},
        "Queue": {"Type": "AWS::SQS::Queue"},
    }
    values: dict[StackOutput, Any] = {
        StackOutput.IMAGES_BUCKET: {"Ref": "Images"},
        StackOutput.FUNCTION_NAME: function_name,
        StackOutput.FUNCTION_ARN: function_arn(function_name),
        StackOutput.QUEUE_URL: {"Ref": "Queue"},
        StackOutput.DEAD_LETTER_QUEUE_URL: {"Ref": "DeadLetterQueue"},
    }
    if with_table:
        resources["Results"] = {"Type": "AWS::DynamoDB::Table", "Properties": results_table_properties()}
        values[StackOutput.RESULTS_TABLE] = {"Ref": "Results"}
    outputs = {str(name): {"Value": value} for name, value in values.items() if name not in omit}
    return {"Resources": resources, "Outputs": outputs}


def function_arn(function_name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function_name}"


@dataclass(frozen=True)
class Deployed:
    stack_name: str
    bucket: str
    function_name: str
    function_arn: str
    table: str | None


@functools.cache
def aws_client(service: str) -> Any:
    """One client per service for the tests' own calls (moto's endpoint and the fake credentials
    stay the same for the whole test session; a client per call would cost more than the call)."""
    return boto3.client(service)


def deploy(
    stack_name: str = DEFAULT_STACK, *, with_table: bool = True, omit: tuple[str, ...] = ()
) -> Deployed:
    """Create the stack in moto (uses the AWS_* environment) and return its resources' names."""
    # Named the way CloudFormation names a function it creates.
    function_name = f"{stack_name}-Recognizer-{uuid.uuid4().hex[:12].upper()}"
    cloudformation = aws_client("cloudformation")
    cloudformation.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(stack_template(function_name, with_table=with_table, omit=omit)),
    )
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack["StackStatus"]
    resources = {
        item["LogicalResourceId"]: item["PhysicalResourceId"]
        for item in cloudformation.describe_stack_resources(StackName=stack_name)["StackResources"]
    }
    # moto's CloudFormation ignores VersioningConfiguration; the real bucket is versioned.
    aws_client("s3").put_bucket_versioning(
        Bucket=resources["Images"], VersioningConfiguration={"Status": "Enabled"}
    )
    return Deployed(
        stack_name=stack_name,
        bucket=resources["Images"],
        function_name=function_name,
        function_arn=function_arn(function_name),
        table=resources.get("Results"),
    )


def function_environment(table: str | None) -> dict[str, str]:
    """The environment the stack gives the function with default settings (test_contract checks it
    against the synthesized template)."""
    environment = {
        setting.env: setting.to_env(setting.default) for setting in FUNCTION_SETTINGS if setting.env
    }
    if table is not None:
        environment[ENV_RESULTS_TABLE] = table
    return environment


def serve_stack(function: LocalLambda, deployed: Deployed) -> None:
    """Make `function` the deployed function of another stack (its name, ARN and environment)."""
    function.function_name = deployed.function_name
    function.function_arn = deployed.function_arn
    function.environ = function_environment(deployed.table)


def put_item(table: str, item: dict[str, Any]) -> None:
    """Write an item made by the contract's builders, for states the function cannot be made to
    produce on demand (an old item, an analysis at a chosen time)."""
    serializer = TypeSerializer()
    aws_client("dynamodb").put_item(
        TableName=table, Item={name: serializer.serialize(value) for name, value in item.items()}
    )


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
