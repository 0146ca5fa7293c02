"""The moto speed-up for transactions (tests/handler/moto_transactions.py) keeps moto's outcomes.

It replaces moto's rollback, so its correctness is checked against what DynamoDB promises: a
cancelled transaction changes nothing, a committed one changes everything it names.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from recognizer import clients
from tests.handler import moto_transactions
from tests.handler.recognizer_testkit import TABLE

moto_transactions.install()


def put(pk: str, sk: str, value: str, **condition: Any) -> dict[str, Any]:
    item = {"pk": {"S": pk}, "sk": {"S": sk}, "value": {"S": value}}
    return {"Put": {"TableName": TABLE, "Item": item, **condition}}


def contents(client: Any) -> set[tuple[str, str, str]]:
    items = client.scan(TableName=TABLE)["Items"]
    return {(i["pk"]["S"], i["sk"]["S"], i.get("value", {}).get("S", "")) for i in items}


@pytest.fixture
def client(table: Any) -> Any:
    dynamodb = clients.dynamodb()
    dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "a"}, "sk": {"S": "1"}, "value": {"S": "old"}})
    dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "b"}, "sk": {"S": "1"}, "value": {"S": "guard"}})
    return dynamodb


BEFORE = {("a", "1", "old"), ("b", "1", "guard")}


def test_a_cancelled_transaction_changes_nothing(client: Any) -> None:
    with pytest.raises(ClientError, match="TransactionCanceledException"):
        client.transact_write_items(TransactItems=[
            put("a", "1", "replaced"),  # an existing item, replaced before the refusal
            put("a", "2", "new"),  # a new item in an existing partition
            put("c", "1", "new"),  # a new partition
            put("b", "1", "refused", ConditionExpression="attribute_not_exists(pk)"),
        ])  # fmt: skip
    assert contents(client) == BEFORE


def test_a_transaction_naming_one_item_twice_changes_nothing(client: Any) -> None:
    with pytest.raises(ClientError, match="multiple operations on one item"):
        client.transact_write_items(TransactItems=[put("c", "1", "first"), put("c", "1", "second")])
    assert contents(client) == BEFORE


def test_a_committed_transaction_writes_every_item(client: Any) -> None:
    client.transact_write_items(TransactItems=[put("a", "1", "replaced"), put("c", "1", "new")])
    assert contents(client) == {("a", "1", "replaced"), ("b", "1", "guard"), ("c", "1", "new")}


def test_a_cancelled_transaction_with_an_update_changes_nothing(client: Any) -> None:
    update = {"Update": {"TableName": TABLE, "Key": {"pk": {"S": "a"}, "sk": {"S": "1"}},
                         "UpdateExpression": "SET #v = :v", "ExpressionAttributeNames": {"#v": "value"},
                         "ExpressionAttributeValues": {":v": {"S": "updated"}}}}  # fmt: skip
    with pytest.raises(ClientError, match="TransactionCanceledException"):
        client.transact_write_items(
            TransactItems=[update, put("b", "1", "refused", ConditionExpression="attribute_not_exists(pk)")]
        )
    assert contents(client) == BEFORE
