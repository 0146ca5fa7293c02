"""Security gates over every synthesized variant: cdk-nag, cfn-lint and an IAM wildcard check."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3

from recognizer.contract import StackOutput
from stacks.app import create_app
from tests.conftest import VARIANTS
from tests.infra.helpers import as_list

ROOT = Path(__file__).resolve().parents[2]

# The only actions allowed on Resource "*": none of them supports resource-level permissions.
STAR_RESOURCE_ACTIONS = {
    "rekognition:RecognizeCelebrities",
    "rekognition:DetectFaces",  # the watchlist function's face finder (collection actions are scoped)
    # Stored video: Rekognition's video jobs are no resources (they take no ARN).
    "rekognition:StartCelebrityRecognition",
    "rekognition:GetCelebrityRecognition",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    # The backfill state machine's tracing and its log delivery (CDK grants these for Step Functions
    # logging): CloudWatch Logs' vended-log-delivery actions and X-Ray's sampling calls support no
    # resource-level permission (Step Functions developer guide, "IAM policies for logging").
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}


def _allow_statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every Allow statement of every policy document in the template (identity and resource policies)."""
    found: list[tuple[str, dict[str, Any]]] = []

    def walk(logical_id: str, node: Any) -> None:
        if isinstance(node, dict):
            if "Statement" in node and "AssumeRolePolicyDocument" not in node:
                found.extend(
                    (logical_id, s) for s in as_list(node["Statement"]) if s.get("Effect") == "Allow"
                )
            for key, value in node.items():
                if key != "AssumeRolePolicyDocument":
                    walk(logical_id, value)
        elif isinstance(node, list):
            for value in node:
                walk(logical_id, value)

    for logical_id, resource in template["Resources"].items():
        walk(logical_id, resource.get("Properties", {}))
    return found


def _is_default_key_policy(template: dict[str, Any], logical_id: str, statement: dict[str, Any]) -> bool:
    """KMS's default key policy: the account's root may use the key, which hands the decision to IAM
    policies (a key policy must name the key's users; `*` there means this key)."""
    root = {
        "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::", {"Ref": "AWS::AccountId"}, ":root"]]
    }
    return template["Resources"][logical_id]["Type"] == "AWS::KMS::Key" and statement == {
        "Action": "kms:*", "Effect": "Allow", "Resource": "*", "Principal": {"AWS": root}
    }  # fmt: skip


def wildcard_problems(template: dict[str, Any]) -> list[str]:
    problems = []
    for logical_id, statement in _allow_statements(template):
        if _is_default_key_policy(template, logical_id, statement):
            continue
        actions = as_list(statement.get("Action", []))
        for action in actions:
            if action == "*" or action.endswith(":*"):
                problems.append(f"{logical_id}: wildcard action {action}")
        if "*" in as_list(statement.get("Resource", [])):
            for action in set(actions) - STAR_RESOURCE_ACTIONS:
                problems.append(f"{logical_id}: {action} on Resource '*'")
    return problems


def test_no_wildcard_action_and_star_resource_only_where_required(any_template: dict[str, Any]) -> None:
    assert wildcard_problems(any_template) == []
    # The checker sees the statements it must allow, so an empty result above is not vacuous.
    star = [
        s for logical_id, s in _allow_statements(any_template)
        if s.get("Resource") == "*" and not _is_default_key_policy(any_template, logical_id, s)
    ]  # fmt: skip
    # DetectFaces only where the watchlist is, the video jobs' actions only where video is.
    types = {r["Type"] for r in any_template["Resources"].values()}
    expected = set(STAR_RESOURCE_ACTIONS)
    if "AWS::Rekognition::Collection" not in types:
        expected -= {"rekognition:DetectFaces"}
    if StackOutput.VIDEO_START_QUEUE_URL not in any_template["Outputs"]:
        expected -= {"rekognition:StartCelebrityRecognition", "rekognition:GetCelebrityRecognition"}
    assert {a for s in star for a in as_list(s["Action"])} == expected


def test_wildcard_checker_catches_what_it_must() -> None:
    def policy(statement: dict[str, Any]) -> dict[str, Any]:
        doc = {"PolicyDocument": {"Statement": [{"Effect": "Allow", **statement}]}}
        return {"Resources": {"P": {"Type": "AWS::IAM::Policy", "Properties": doc}}}

    assert wildcard_problems(policy({"Action": "*", "Resource": "arn"})) == ["P: wildcard action *"]
    assert wildcard_problems(policy({"Action": ["s3:*"], "Resource": "arn"})) == ["P: wildcard action s3:*"]
    assert wildcard_problems(policy({"Action": "s3:GetObject", "Resource": "*"})) == [
        "P: s3:GetObject on Resource '*'"
    ]
    assert wildcard_problems(policy({"Action": "rekognition:RecognizeCelebrities", "Resource": "*"})) == []


def test_cfn_lint_finds_nothing_in_any_variant(synth_template: Any, tmp_path: Path) -> None:
    paths = []
    for name, context in VARIANTS.items():
        path = tmp_path / f"{name}.template.json"
        path.write_text(json.dumps(synth_template(**context)))
        paths.append(str(path))
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "cfn-lint"),
            "--config-file",
            str(ROOT / ".cfnlintrc.yaml"),
            *paths,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_cfn_lint_config_ignores_only_documented_rules() -> None:
    lines = (ROOT / ".cfnlintrc.yaml").read_text().splitlines()
    ignored = [line.strip()[2:] for line in lines if line.strip().startswith("- ")]
    assert ignored == ["W3005"]
    for rule in ignored:
        assert any(line.lstrip().startswith(f"# {rule} ") for line in lines), f"{rule} has no reason"


def test_cdk_nag_fails_synthesis_on_a_new_finding(tmp_path: Path) -> None:
    app = create_app({"aws:cdk:bundling-stacks": []}, outdir=str(tmp_path))
    stack = app.node.find_child("CelebrityRecognition")
    s3.Bucket(stack, "CarelessBucket")  # no TLS enforcement, no access logs
    with pytest.raises(Exception, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    violations = {
        (violation["ruleName"], construct["constructPath"])
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
        for construct in violation["violatingConstructs"]
    }
    # Exactly the new bucket's findings: everything acknowledged in the stack stays quiet.
    path = "CelebrityRecognition/CarelessBucket/Resource"
    assert violations == {("AwsSolutions-S1", path), ("AwsSolutions-S10", path)}


def test_acknowledgements_are_exactly_these_each_on_its_construct() -> None:
    app = create_app({"aws:cdk:bundling-stacks": [], "alarm_email": "ops@example.com"})
    acknowledged: dict[str, dict[str, str]] = {}
    for construct in app.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                acknowledged.setdefault(construct.node.path, {}).update(entry.data)
    stack = "CelebrityRecognition"
    # The cloud backfill's acknowledgements (stacks/backfill.py): wildcard findings only, each on the
    # state machine's own policies, for resources named at run time.
    backfill = {path: rules for path, rules in acknowledged.items() if path.startswith(f"{stack}/Backfill/")}
    assert backfill and all(
        rule.startswith(
            ("AwsSolutions::AwsSolutions-IAM5[", "AwsSolutions::AwsSolutions-SF2", "Serverless::")
        )
        for rules in backfill.values()
        for rule in rules
    )
    others = {path: sorted(rules) for path, rules in acknowledged.items() if path not in backfill}
    assert others == {
        f"{stack}/Recognition/Role/DefaultPolicy": [
            "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            "AwsSolutions::AwsSolutions-IAM5[Resource::<StorageImagesCFC0E004.Arn>/*]",
        ],
        f"{stack}/Ingestion/DeadLetterQueue": ["Serverless::Serverless-SQSRedrivePolicy"],
        f"{stack}/Recognition/Function/Uploads": [
            "Serverless::Serverless-LambdaEventSourceMappingDestination"
        ],
        f"{stack}/Alarms/Undelivered": [
            "AwsSolutions::AwsSolutions-SQS3",
            "Serverless::Serverless-SQSRedrivePolicy",
        ],
    }
    reasons = [reason for rules in acknowledged.values() for reason in rules.values()]
    assert all(len(reason) > 60 for reason in reasons), "every acknowledgement needs a real reason"
