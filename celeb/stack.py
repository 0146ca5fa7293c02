"""Resource names come from the deployed stack's CloudFormation outputs, so nobody pastes them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from celeb.aws import error_code
from celeb.errors import ConfigProblem
from recognizer.contract import SETTINGS_BY_KEY, StackOutput

# The stack's own default name, so `celeb` finds a stack deployed without `-c stack_name=...`.
DEFAULT_STACK: str = SETTINGS_BY_KEY["stack_name"].default


@dataclass(frozen=True)
class StackOutputs:
    stack_name: str
    region: str | None
    status: str
    values: dict[str, str] = field(default_factory=dict)

    def require(self, output: StackOutput) -> str:
        """The output's value, or a configuration error naming the missing output."""
        if output in self.values:
            return self.values[output]
        if output == StackOutput.RESULTS_TABLE:
            raise ConfigProblem(
                f"stack {self.stack_name!r} has no {output} output: it was deployed without "
                "the results table (-c results_table=false), so no results are stored"
            )
        raise ConfigProblem(
            f"stack {self.stack_name!r} ({self.status}) has no {output} output: is it the celebrity "
            "recognition stack, and fully deployed?"
        )

    @property
    def bucket(self) -> str:
        return self.require(StackOutput.IMAGES_BUCKET)

    @property
    def function_name(self) -> str:
        return self.require(StackOutput.FUNCTION_NAME)

    @property
    def results_table(self) -> str | None:
        """None when the stack was deployed without the results table."""
        return self.values.get(StackOutput.RESULTS_TABLE)


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
