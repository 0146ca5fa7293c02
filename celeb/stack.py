"""Resource names come from the deployed stack's CloudFormation outputs, so nobody pastes them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from celeb.aws import error_code
from celeb.errors import ConfigProblem

DEFAULT_STACK = "CelebrityRecognition"

# Output keys exactly as the stack declares them.
BUCKET = "ImagesBucketName"
FUNCTION_NAME = "FunctionName"
FUNCTION_ARN = "FunctionArn"
RESULTS_TABLE = "ResultsTableName"


@dataclass(frozen=True)
class StackOutputs:
    stack_name: str
    region: str | None
    status: str
    values: dict[str, str] = field(default_factory=dict)

    def require(self, key: str) -> str:
        """The output's value, or a configuration error naming the missing key."""
        if key in self.values:
            return self.values[key]
        if key == RESULTS_TABLE:
            raise ConfigProblem(
                f"stack {self.stack_name!r} has no {RESULTS_TABLE} output: it was deployed without "
                "the results table (-c results_table=false), so no results are stored"
            )
        raise ConfigProblem(
            f"stack {self.stack_name!r} ({self.status}) has no {key} output: is it the celebrity "
            "recognition stack, and fully deployed?"
        )

    @property
    def bucket(self) -> str:
        return self.require(BUCKET)

    @property
    def function_name(self) -> str:
        return self.require(FUNCTION_NAME)

    @property
    def results_table(self) -> str | None:
        """None when the stack was deployed without the results table."""
        return self.values.get(RESULTS_TABLE)


def read_outputs(cloudformation: Any, stack_name: str) -> StackOutputs:
    region = cloudformation.meta.region_name
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        # CloudFormation reports a missing stack as a generic ValidationError; only the text tells.
        if error_code(exc) == "ValidationError" and "does not exist" in str(exc):
            raise ConfigProblem(
                f"stack {stack_name!r} not found in region {region}: deploy it, or pass --stack/--region"
            ) from exc
        raise
    stack = stacks[0]
    values = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
    return StackOutputs(stack_name=stack_name, region=region, status=stack["StackStatus"], values=values)
