"""cdk-nag wiring: the rule packs that gate synthesis, and one helper for narrow acknowledgements.

Every acknowledgement names one finding (rule plus the exact action or resource it is about) on the
construct it concerns, with the reason a reviewer would need. Anything else fails `cdk synth`.
"""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, ServerlessChecks
from constructs import IConstruct


def add_compliance_checks(app: cdk.App) -> None:
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))


def acknowledge(construct: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge one finding, spelled as cdk-nag prints it after 'Acknowledge with'.

    For example 'AwsSolutions::AwsSolutions-IAM5[Resource::*]'.
    """
    cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=finding, reason=reason))


def logical_id(construct: IConstruct) -> str:
    """The CloudFormation logical ID of an L2 construct's resource, as cdk-nag prints it in findings."""
    stack = cdk.Stack.of(construct)
    return stack.resolve(stack.get_logical_id(construct.node.default_child))
