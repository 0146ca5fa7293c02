"""Every valid S3 key (1 to 1,024 UTF-8 bytes) is analysed, stored and findable by celebrity.

The celebrity index's sort key used to be `bucket/key#version`: over DynamoDB's 1,024-byte limit
for long keys, so the write failed, was retried, and the upload ended in the dead-letter queue with
no result. moto enforces that limit, so these tests fail with the old spelling.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote_plus

import handler
import pytest
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from recognizer import clients
from recognizer.contract import CELEBRITY_INDEX, MAX_KEY_BYTES, image_pk
from tests.handler.recognizer_testkit import (
    BUCKET,
    TABLE,
    AwsAnswers,
    celebrities_response,
    celebrity_face,
    expect_recognition,
    object_body,
    png_bytes,
    s3_event,
    sqs_event,
)

BEZOS = celebrities_response(celebrity_face("Jeff Bezos", "1SK7cR8M", 98.5))


def key_of(size: int, character: str, suffix: str = ".png") -> str:
    """A key of exactly ``size`` UTF-8 bytes when ``character`` fits, ending in ``suffix``."""
    room = size - len(suffix.encode())
    count, rest = divmod(room, len(character.encode()))
    return character * count + "a" * rest + suffix


LONG_KEYS = {
    "1024 ascii": key_of(1024, "k"),
    "1024 two-byte": key_of(1024, "é"),
    "1024 three-byte": key_of(1024, "東"),
    "1024 four-byte": key_of(1024, "😀"),
    "1023 three-byte": key_of(1023, "東"),
    # The characters image_ref and encodings use: "/" and "#" separate, "~" pads, " +%" encode.
    "1024 with separators": ("dir/a#b~c d+e%f " * 80)[:1020] + ".png",
}


def appearances(table: Any, name: str) -> list[dict[str, Any]]:
    return table.query(IndexName=CELEBRITY_INDEX, KeyConditionExpression=Key("celebrity_name").eq(name))[
        "Items"
    ]


@pytest.mark.parametrize("key", LONG_KEYS.values(), ids=LONG_KEYS.keys())
def test_a_key_up_to_s3s_limit_is_stored_and_findable(
    versioned: Any, table: Any, rekognition: Stubber, key: str
) -> None:
    assert len(key.encode()) <= MAX_KEY_BYTES
    version = versioned.put_object(Bucket=BUCKET, Key=key, Body=png_bytes(100, 100))["VersionId"]
    expect_recognition(rekognition, key, BEZOS, version_id=version)
    # The upload's own path: an S3 notification (URL-encoded key) in an SQS message.
    event = sqs_event(("m-1", json.dumps(s3_event(quote_plus(key), version_ids={quote_plus(key): version}))))
    assert handler.lambda_handler(event, None) == {"batchItemFailures": []}

    summary = table.get_item(Key={"pk": image_pk(BUCKET, key), "sk": f"VERSION#{version}"})["Item"]
    assert (summary["status"], summary["key"]) == ("SUCCEEDED", key)
    (found,) = appearances(table, "Jeff Bezos")
    assert (found["bucket"], found["key"], found["version_id"]) == (BUCKET, key, version)
    assert len(found["image_ref"].encode()) <= 1024


def test_a_long_key_in_a_direct_invocation_is_answered_and_then_found(
    s3: Any, table: Any, rekognition: Stubber
) -> None:
    key = LONG_KEYS["1024 four-byte"]
    s3.put_object(Bucket=BUCKET, Key=key, Body=png_bytes(100, 100))
    expect_recognition(rekognition, key, BEZOS)
    result = handler.lambda_handler({"bucket": BUCKET, "object_name": key}, None)
    assert (result["key"], result["celebrities"][0]["name"]) == (key, "Jeff Bezos")
    (found,) = appearances(table, "Jeff Bezos")
    assert found["key"] == key and "version_id" not in found


def test_a_very_long_version_id_is_stored_and_findable(aws: None, table: Any, rekognition: Stubber) -> None:
    key, version = LONG_KEYS["1024 ascii"], "V" * 1024
    image = png_bytes(100, 100)
    with AwsAnswers(clients.s3()) as s3:
        # S3 ids are short today; nothing in the API promises it, and the key must hold any.
        s3.response("GetObject", lambda: object_body(image) | {"VersionId": version})
        expect_recognition(rekognition, key, BEZOS, version_id=version)
        result = handler.lambda_handler({"bucket": BUCKET, "object_name": key, "version_id": version}, None)
    assert result["version_id"] == version
    (found,) = appearances(table, "Jeff Bezos")
    assert (found["key"], found["version_id"]) == (key, version)
    results = [item for item in table.scan()["Items"] if item["pk"].startswith("IMAGE#")]
    assert [item["version_id"] for item in results] == [version, version]


def test_moto_refuses_the_old_index_sort_key_so_these_tests_can_fail(table: Any) -> None:
    key = LONG_KEYS["1024 ascii"]
    old_image_ref = f"{BUCKET}/{key}#null"
    with pytest.raises(ClientError, match="size limit of 1024 bytes"):
        clients.dynamodb().put_item(
            TableName=TABLE,
            Item={
                "pk": {"S": image_pk(BUCKET, key)},
                "sk": {"S": "VERSION#null#CELEBRITY#1"},
                "celebrity_name": {"S": "Jeff Bezos"},
                "image_ref": {"S": old_image_ref},
            },
        )
