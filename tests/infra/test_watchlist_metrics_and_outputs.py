"""The watchlist function's metrics namespace and the stack's threshold output (stacks/watchlist.py)."""

from __future__ import annotations

from typing import Any

import pytest

from recognizer.contract import SETTINGS_BY_KEY, StackOutput
from tests.conftest import VARIANTS
from tests.infra.helpers import only

NAMESPACE_ENV = str(SETTINGS_BY_KEY["metrics_namespace"].env)


@pytest.fixture(scope="module")
def template(synth_template: Any) -> dict[str, Any]:
    return synth_template(**VARIANTS["watchlist"])


@pytest.fixture(scope="module")
def custom(synth_template: Any) -> dict[str, Any]:
    return synth_template(watchlist="true", watchlist_threshold="95.5", metrics_namespace="Team/Celebs")


def _variables(template: dict[str, Any], handler: str) -> dict[str, Any]:
    return only(template, "AWS::Lambda::Function", Handler=handler)[1]["Properties"]["Environment"][
        "Variables"
    ]


def test_both_functions_publish_under_the_stacks_namespace(
    template: dict[str, Any], custom: dict[str, Any]
) -> None:
    for stack, namespace in (
        (template, SETTINGS_BY_KEY["metrics_namespace"].default),
        (custom, "Team/Celebs"),
    ):
        watchlist = _variables(stack, "watchlist.handler.lambda_handler")
        celebrity = _variables(stack, "handler.lambda_handler")
        assert watchlist[NAMESPACE_ENV] == celebrity[NAMESPACE_ENV] == namespace


def test_the_threshold_output_is_the_functions_threshold(
    template: dict[str, Any], custom: dict[str, Any], synth_template: Any
) -> None:
    for stack, threshold in ((template, "99"), (custom, "95.5")):
        assert stack["Outputs"][str(StackOutput.WATCHLIST_THRESHOLD)]["Value"] == threshold
        assert _variables(stack, "watchlist.handler.lambda_handler")["WATCHLIST_THRESHOLD"] == threshold
    without = synth_template()["Outputs"]
    assert StackOutput.WATCHLIST_THRESHOLD not in without
    assert StackOutput.WATCHLIST_COLLECTION not in without
