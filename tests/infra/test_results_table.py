"""The optional results table: keys for both questions users ask, PITR, encryption, on-demand."""

from __future__ import annotations

from typing import Any

from tests.infra.helpers import logical_id_of, resources


def test_table_keys_gsi_and_protection(synth_template: Any) -> None:
    template = synth_template()
    table = template["Resources"][logical_id_of(template, "ResultsTable")]
    props = table["Properties"]
    assert props["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert props["GlobalSecondaryIndexes"] == [
        {
            "IndexName": "by-celebrity",
            "KeySchema": [
                {"AttributeName": "celebrity_name", "KeyType": "HASH"},
                {"AttributeName": "image_ref", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }
    ]
    assert sorted(props["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == [
        {"AttributeName": n, "AttributeType": "S"} for n in ("celebrity_name", "image_ref", "pk", "sk")
    ]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"] == {"SSEEnabled": True}
    assert props["DeletionProtectionEnabled"] is True
    assert table["DeletionPolicy"] == "Retain"


def test_dev_table_can_be_destroyed(synth_template: Any) -> None:
    template = synth_template(deployment="dev", alarm_email="ops@example.com", upload_prefix="incoming/")
    table = template["Resources"][logical_id_of(template, "ResultsTable")]
    assert table["Properties"]["DeletionProtectionEnabled"] is False
    assert table["DeletionPolicy"] == "Delete"


def test_no_table_when_disabled(synth_template: Any) -> None:
    assert not resources(synth_template(results_table="false"), "AWS::DynamoDB::Table")
