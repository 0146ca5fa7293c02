"""The CI role's stack (stacks/ci_oidc.py): whom the role trusts and what it may do, in the template."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stacks.ci_oidc import CDK_QUALIFIER_KEY, load_ci_config
from stacks.ci_oidc_app import create_ci_app
from stacks.config import ConfigError
from tests.infra.helpers import only, resources, statements

REPOSITORY = "octo-org/celebrity-recognition"
EXISTING_PROVIDER = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"


def _synth(tmp_path_factory: pytest.TempPathFactory, **context: str) -> dict[str, Any]:
    outdir = tmp_path_factory.mktemp("ci-oidc")
    # cdk-nag runs at synthesis: a finding would fail here.
    return create_ci_app(context, outdir=str(outdir)).synth().stacks[0].template


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _synth(tmp_path_factory, github_repository=REPOSITORY)


@pytest.fixture(scope="module")
def with_existing_provider(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _synth(
        tmp_path_factory,
        github_repository=REPOSITORY,
        github_environment="aws-integ",
        github_oidc_provider_arn=EXISTING_PROVIDER,
    )


def _role(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    [(role_id, role)] = resources(template, "AWS::IAM::Role").items()
    return role_id, role


def _resolved(value: Any) -> str:
    """A Fn::Join of strings and pseudo parameters, spelled as CloudFormation would substitute it."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return "${" + value["Ref"] + "}"
    separator, parts = value["Fn::Join"]
    return separator.join(_resolved(part) for part in parts)


def test_creates_githubs_oidc_provider_for_sts(template: dict[str, Any]) -> None:
    _, provider = only(template, "AWS::IAM::OIDCProvider")
    assert provider["Properties"] == {
        "Url": "https://token.actions.githubusercontent.com",
        "ClientIdList": ["sts.amazonaws.com"],
    }
    # The CloudFormation resource itself: no custom resource and its Lambda function.
    assert not resources(template, "AWS::Lambda::Function")


def test_role_trusts_only_the_repositorys_integ_environment(template: dict[str, Any]) -> None:
    provider_id, _ = only(template, "AWS::IAM::OIDCProvider")
    _, role = _role(template)
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Effect": "Allow",
            "Principal": {"Federated": {"Ref": provider_id}},
            "Condition": {
                "StringEquals": {
                    "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                    # An exact subject: not a branch, not a pull request, not another repository.
                    "token.actions.githubusercontent.com:sub": f"repo:{REPOSITORY}:environment:integ",
                }
            },
        }
    ]


def test_role_may_only_assume_the_cdk_bootstrap_roles(template: dict[str, Any]) -> None:
    role_id, role = _role(template)
    assert "ManagedPolicyArns" not in role["Properties"]
    [statement] = statements(template, role_id)
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Effect"] == "Allow"
    assert sorted(_resolved(arn) for arn in statement["Resource"]) == [
        f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/cdk-hnb659fds-{name}-${{AWS::AccountId}}-${{AWS::Region}}"
        for name in ("deploy-role", "file-publishing-role")
    ]
    # The integration app makes no context lookup: the read-only lookup role is not needed.
    assert not any("lookup-role" in _resolved(arn) for arn in statement["Resource"])


def test_no_wildcard_anywhere(template: dict[str, Any]) -> None:
    text = json.dumps(template["Resources"])
    assert '"*"' not in text
    assert "*" not in text.replace("/*", "")  # no wildcard principal, action or resource


def test_references_an_existing_provider_instead_of_creating_one(
    with_existing_provider: dict[str, Any],
) -> None:
    assert not resources(with_existing_provider, "AWS::IAM::OIDCProvider")
    _, role = _role(with_existing_provider)
    [trust] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Federated": EXISTING_PROVIDER}
    conditions = trust["Condition"]["StringEquals"]
    assert conditions["token.actions.githubusercontent.com:sub"] == f"repo:{REPOSITORY}:environment:aws-integ"


def test_exports_the_role_arn_for_the_repository_variable(template: dict[str, Any]) -> None:
    role_id, _ = _role(template)
    assert template["Outputs"]["RoleArn"]["Value"] == {"Fn::GetAtt": [role_id, "Arn"]}


@pytest.mark.parametrize(
    ("context", "fragment"),
    [
        ({}, "context key 'github_repository' has value None: expected OWNER/REPO (required)"),
        ({"github_repository": "https://github.com/o/r"}, "expected OWNER/REPO"),
        ({"github_repository": "o/r", "github_oidc_provider_arn": "arn:aws:iam::1:oidc-provider/x"}, "ARN"),
        ({"github_repository": "o/r", "github_environment": "a\nb"}, "GitHub environment name"),
    ],
)
def test_bad_context_is_one_clear_error(context: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigError) as error:
        create_ci_app(context)
    assert fragment in str(error.value)


def test_the_cdks_own_qualifier_key_names_the_bootstrap_roles(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # What `make integ CDK_ARGS="-c @aws-cdk/core:bootstrapQualifier=Q"` passes: one key for both apps.
    template = _synth(tmp_path_factory, github_repository=REPOSITORY, **{CDK_QUALIFIER_KEY: "team42"})
    role_id, _ = _role(template)
    [statement] = statements(template, role_id)
    assert sorted(_resolved(arn) for arn in statement["Resource"]) == [
        f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/cdk-team42-{name}-${{AWS::AccountId}}-${{AWS::Region}}"
        for name in ("deploy-role", "file-publishing-role")
    ]


def test_bootstrap_qualifier_and_the_cdks_key_must_agree() -> None:
    base = {"github_repository": REPOSITORY}
    assert load_ci_config(base).qualifier == "hnb659fds"
    assert load_ci_config({**base, "bootstrap_qualifier": "team42"}).qualifier == "team42"
    assert (
        load_ci_config({**base, "bootstrap_qualifier": "team42", CDK_QUALIFIER_KEY: "team42"}).qualifier
        == "team42"
    )
    with pytest.raises(ConfigError, match=r"'bootstrap_qualifier' has value 'team42'.*\(other\)"):
        load_ci_config({**base, "bootstrap_qualifier": "team42", CDK_QUALIFIER_KEY: "other"})
    with pytest.raises(ConfigError, match=CDK_QUALIFIER_KEY):
        load_ci_config({**base, CDK_QUALIFIER_KEY: "far-too-long-a-qualifier"})
