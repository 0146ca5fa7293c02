"""The role GitHub Actions assumes to run `make integ` (.github/workflows/integ.yml), and its OIDC provider.

A separate, small stack (`make ci-role`; README: Continuous integration). Least privilege:

- the role trusts only GitHub's OIDC tokens for one repository *and* one GitHub environment
  (`sub` = `repo:OWNER/REPO:environment:ENV`, `aud` = `sts.amazonaws.com`), so only a job that
  the environment's protection rules (e.g. a required reviewer) let through can assume it;
- its only permission is `sts:AssumeRole` on the CDK bootstrap roles that `cdk deploy` and
  `cdk destroy` use in this account and region: deploy (CloudFormation through its execution
  role) and file publishing (assets). Not the lookup role: the integration app makes no context
  lookup (no `from_lookup`, its stacks name no account). What the deployment may change is
  decided by the bootstrap, as for any CDK user; no managed policy, no wildcard.

An account has at most one OIDC provider for GitHub's URL: pass the ARN of an existing one with
`-c github_oidc_provider_arn=...` and the stack references it instead of creating it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks.config import ConfigError

GITHUB_OIDC_URL = "https://token.actions.githubusercontent.com"
GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
AUDIENCE = "sts.amazonaws.com"
# The CDK bootstrap's default qualifier; `cdk bootstrap --qualifier` users pass theirs (and `make integ`
# then needs CDK_ARGS="-c @aws-cdk/core:bootstrapQualifier=Q" so the app names the same roles).
DEFAULT_QUALIFIER = "hnb659fds"
CDK_QUALIFIER_KEY = "@aws-cdk/core:bootstrapQualifier"
# The bootstrap roles the CLI assumes for deploy and destroy (no container image assets, no lookups).
BOOTSTRAP_ROLES = ("deploy-role", "file-publishing-role")


@dataclass(frozen=True)
class CiRoleConfig:
    repository: str  # OWNER/REPO
    environment: str = "integ"
    provider_arn: str | None = None  # an existing provider for GitHub's URL
    qualifier: str = DEFAULT_QUALIFIER
    stack_name: str = "CelebrityRecognitionCiRole"


# GitHub's rules for owner and repository names, environment names; IAM's provider ARN.
_CHECKS = {
    "github_repository": (r"[A-Za-z0-9-]+/[A-Za-z0-9._-]+", "OWNER/REPO, as in the repository's URL"),
    "github_environment": (r"[A-Za-z0-9 _.-]{1,255}", "a GitHub environment name"),
    "github_oidc_provider_arn": (
        rf"arn:aws[a-z-]*:iam::\d{{12}}:oidc-provider/{re.escape(GITHUB_OIDC_HOST)}",
        f"the ARN of this account's OIDC provider for {GITHUB_OIDC_HOST}",
    ),
    "bootstrap_qualifier": (
        r"[A-Za-z0-9_-]{1,10}",
        "the qualifier given to `cdk bootstrap` (default hnb659fds)",
    ),
    "ci_stack_name": (r"[A-Za-z][A-Za-z0-9-]{0,127}", "a CloudFormation stack name"),
}


def load_ci_config(context: dict[str, Any]) -> CiRoleConfig:
    """The stack's settings from CDK context; ConfigError names the key, the value and what is allowed."""
    values: dict[str, str] = {}
    for key, (pattern, allowed) in _CHECKS.items():
        value = context.get(key)
        if value is None or value == "":
            continue
        if not isinstance(value, str) or not re.fullmatch(pattern, value):
            raise ConfigError(key, value, allowed)
        values[key] = value
    if "github_repository" not in values:
        raise ConfigError("github_repository", context.get("github_repository"), "OWNER/REPO (required)")
    # The CDK's own key for a custom bootstrap (what `make integ` passes so its stacks use those
    # roles) names the qualifier too: one `-c @aws-cdk/core:bootstrapQualifier=Q` serves both apps.
    cdk_qualifier = context.get(CDK_QUALIFIER_KEY)
    if cdk_qualifier not in (None, ""):
        pattern, allowed = _CHECKS["bootstrap_qualifier"]
        if not isinstance(cdk_qualifier, str) or not re.fullmatch(pattern, cdk_qualifier):
            raise ConfigError(CDK_QUALIFIER_KEY, cdk_qualifier, allowed)
        if values.setdefault("bootstrap_qualifier", cdk_qualifier) != cdk_qualifier:
            raise ConfigError(
                "bootstrap_qualifier",
                values["bootstrap_qualifier"],
                f"{CDK_QUALIFIER_KEY}'s value ({cdk_qualifier})",
            )
    defaults = CiRoleConfig(repository=values["github_repository"])
    return CiRoleConfig(
        repository=values["github_repository"],
        environment=values.get("github_environment", defaults.environment),
        provider_arn=values.get("github_oidc_provider_arn"),
        qualifier=values.get("bootstrap_qualifier", defaults.qualifier),
        stack_name=values.get("ci_stack_name", defaults.stack_name),
    )


class CiDeployRoleStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: CiRoleConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        if config.provider_arn:
            provider_arn = config.provider_arn
        else:
            # The CloudFormation resource itself (no custom resource, no Lambda function). GitHub's
            # certificate is verified by IAM through its trusted CAs: no thumbprint to pin.
            provider = iam.OidcProviderNative(self, "GitHubOidc", url=GITHUB_OIDC_URL, client_ids=[AUDIENCE])
            provider_arn = provider.oidc_provider_arn

        subject = f"repo:{config.repository}:environment:{config.environment}"
        self.role = iam.Role(
            self,
            "IntegDeployRole",
            description=f"GitHub Actions ({config.repository}, environment {config.environment}): make integ",
            assumed_by=iam.WebIdentityPrincipal(
                provider_arn,
                conditions={
                    "StringEquals": {
                        f"{GITHUB_OIDC_HOST}:aud": AUDIENCE,
                        f"{GITHUB_OIDC_HOST}:sub": subject,
                    }
                },
            ),
            max_session_duration=cdk.Duration.hours(1),
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["sts:AssumeRole"],
                resources=[self._bootstrap_role_arn(config.qualifier, role) for role in BOOTSTRAP_ROLES],
            )
        )
        cdk.CfnOutput(self, "RoleArn", value=self.role.role_arn, description="vars.AWS_DEPLOY_ROLE_ARN")

    def _bootstrap_role_arn(self, qualifier: str, role: str) -> str:
        # As `cdk bootstrap` names them: cdk-<qualifier>-<role>-<account>-<region>.
        return self.format_arn(
            service="iam",
            region="",
            resource="role",
            resource_name=f"cdk-{qualifier}-{role}-{self.account}-{self.region}",
        )
