"""The CloudWatch dashboard: every widget's metrics are in the template's DashboardBody.

The body is a JSON string that CloudFormation assembles with Fn::Join around Refs and GetAtts; the
tests join it with each reference spelled `${LogicalId}` / `${LogicalId.Attribute}` and read it as JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from recognizer.contract import (
    METRIC_ERROR_TYPE_DIMENSION,
    METRIC_FUNCTION_DIMENSION,
    SETTINGS_BY_KEY,
    MetricName,
    StackOutput,
    VideoMetricName,
    WatchlistMetricName,
)
from stacks.config import ConfigError, load_config
from tests.conftest import CUSTOM, VARIANTS
from tests.infra.helpers import logical_id_of, only, resources

NAMESPACE = SETTINGS_BY_KEY["metrics_namespace"].default
CUSTOM_NAMESPACE = CUSTOM["metrics_namespace"]


def resolve(value: Any) -> str:
    """A template string value with its intrinsic functions spelled out as placeholders."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(resolve(part) for part in parts)
    if "Ref" in value:
        return f"${{{value['Ref']}}}"
    if "Fn::GetAtt" in value:
        return "${" + ".".join(value["Fn::GetAtt"]) + "}"
    raise AssertionError(f"unexpected intrinsic in the dashboard body: {value}")


def dashboard_body(template: dict[str, Any]) -> dict[str, Any]:
    _, dashboard = only(template, "AWS::CloudWatch::Dashboard")
    return json.loads(resolve(dashboard["Properties"]["DashboardBody"]))


def widget(body: dict[str, Any], title: str) -> dict[str, Any]:
    (found,) = [w["properties"] for w in body["widgets"] if w["properties"].get("title") == title]
    return found


def metric_lines(properties: dict[str, Any]) -> list[tuple[str, str, dict[str, str], dict[str, Any]]]:
    """(namespace, metric name, dimensions, options) of each metric line (expressions left out)."""
    lines: list[tuple[str, str, dict[str, str], dict[str, Any]]] = []
    for line in properties["metrics"]:
        options = line[-1] if isinstance(line[-1], dict) else {}
        fields = line[:-1] if options else line
        if not fields:  # a math or search expression: only its options
            continue
        namespace, name, *pairs = fields
        lines.append((namespace, name, dict(zip(pairs[::2], pairs[1::2], strict=True)), options))
    return lines


def expressions(properties: dict[str, Any]) -> list[str]:
    return [line[0]["expression"] for line in properties["metrics"] if isinstance(line[0], dict)]


@pytest.fixture(scope="module")
def template(synth_template: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    return synth_template()


@pytest.fixture(scope="module")
def body(template: dict[str, Any]) -> dict[str, Any]:
    return dashboard_body(template)


@pytest.fixture(scope="module")
def function(template: dict[str, Any]) -> str:
    return "${" + logical_id_of(template, "RecognitionFunction") + "}"


def test_every_metric_the_function_publishes_is_graphed_per_function(
    body: dict[str, Any], function: str
) -> None:
    own = [
        (name, options)
        for properties in (w["properties"] for w in body["widgets"] if "metrics" in w["properties"])
        for namespace, name, dimensions, options in metric_lines(properties)
        if namespace == NAMESPACE and dimensions == {METRIC_FUNCTION_DIMENSION: function}
    ]
    assert {name for name, _ in own} == {str(name) for name in MetricName}


def test_images_per_minute(body: dict[str, Any], function: str) -> None:
    lines = metric_lines(widget(body, "Images analyzed per minute"))
    assert [(name, options["stat"], options["period"]) for _, name, _, options in lines] == [
        (MetricName.IMAGES_ANALYZED, "Sum", 60),
        (MetricName.ANSWERED_FROM_TABLE, "Sum", 60),
        (MetricName.FAILURES, "Sum", 60),
    ]


def test_failures_by_error_type_search_this_functions_failures(body: dict[str, Any], function: str) -> None:
    (expression,) = expressions(widget(body, "Failures per minute by error type"))
    schema = f'{{"{NAMESPACE}",{METRIC_ERROR_TYPE_DIMENSION},{METRIC_FUNCTION_DIMENSION}}}'
    assert expression == (
        f'SEARCH(\'{schema} MetricName="{MetricName.FAILURES}" {METRIC_FUNCTION_DIMENSION}="{function}"\', '
        "'Sum', 60)"
    )


def test_rekognition_latency_percentiles(body: dict[str, Any]) -> None:
    lines = metric_lines(widget(body, "Rekognition latency (RecognizeCelebrities, retries included)"))
    assert {name for _, name, _, _ in lines} == {MetricName.REKOGNITION_LATENCY}
    assert [options["stat"] for *_, options in lines] == ["p50", "p90", "p99"]


def test_queue_depth_age_and_both_dead_letter_queues(body: dict[str, Any], template: dict[str, Any]) -> None:
    def queue(path: str) -> dict[str, str]:
        return {"QueueName": "${" + logical_id_of(template, path) + ".QueueName}"}

    waiting = metric_lines(widget(body, "Upload queue: depth and age of the oldest upload"))
    assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible", queue("IngestionQueue")) in [
        line[:3] for line in waiting
    ]
    assert ("AWS/SQS", "ApproximateAgeOfOldestMessage", queue("IngestionQueue")) in [
        line[:3] for line in waiting
    ]
    dead = metric_lines(widget(body, "Dead-letter queues (any message alarms)"))
    assert [line[:3] for line in dead] == [
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible", queue("IngestionDeadLetterQueue")),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible", queue("IngestionDeliveryDeadLetterQueue")),
    ]


def test_function_duration_errors_throttles_and_concurrency(body: dict[str, Any], function: str) -> None:
    graphed = {
        (name, options.get("stat"))
        for title in ("Function duration", "Function errors and throttles", "Function concurrency")
        for namespace, name, dimensions, options in metric_lines(widget(body, title))
        if namespace == "AWS/Lambda" and dimensions == {"FunctionName": function}
    }
    assert graphed == {
        ("Duration", "p50"),
        ("Duration", "p99"),
        ("Duration", "Maximum"),
        ("Errors", "Sum"),
        ("Throttles", "Sum"),
        ("ConcurrentExecutions", "Maximum"),
    }
    concurrency = widget(body, "Function concurrency")
    assert concurrency["annotations"]["horizontal"][0]["value"] == SETTINGS_BY_KEY["max_concurrency"].default


def test_the_state_of_every_alarm(body: dict[str, Any], template: dict[str, Any]) -> None:
    alarms = widget(body, "Alarms")["alarms"]
    assert sorted(alarms) == sorted(
        f"${{{alarm}.Arn}}" for alarm in resources(template, "AWS::CloudWatch::Alarm")
    )
    assert len(alarms) == 5


def test_graphs_follow_the_stacks_region(body: dict[str, Any]) -> None:
    regions = {w["properties"].get("region") for w in body["widgets"] if w["type"] == "metric"}
    assert regions == {"${AWS::Region}"}


def test_outputs_name_the_dashboard(template: dict[str, Any]) -> None:
    dashboard = only(template, "AWS::CloudWatch::Dashboard")[0]
    outputs = template["Outputs"]
    assert outputs[StackOutput.DASHBOARD_NAME]["Value"] == {"Ref": dashboard}
    url = resolve(outputs[StackOutput.DASHBOARD_URL]["Value"])
    assert url == (
        "https://${AWS::Region}.console.aws.amazon.com/cloudwatch/home?region=${AWS::Region}"
        f"#dashboards/dashboard/${{{dashboard}}}"
    )


def test_dashboard_false_leaves_it_out_and_the_namespace_reaches_the_function(
    synth_template: Callable[..., dict[str, Any]],
) -> None:
    template = synth_template(**CUSTOM)  # dashboard false, metrics_namespace CUSTOM_NAMESPACE
    assert resources(template, "AWS::CloudWatch::Dashboard") == {}
    assert not {StackOutput.DASHBOARD_NAME, StackOutput.DASHBOARD_URL} & set(template["Outputs"])
    (function,) = [
        r for r in resources(template, "AWS::Lambda::Function").values()
        if r["Properties"].get("Handler") == "handler.lambda_handler"
    ]  # fmt: skip
    assert function["Properties"]["Environment"]["Variables"]["METRICS_NAMESPACE"] == CUSTOM_NAMESPACE
    assert resources(template, "AWS::CloudWatch::Alarm"), "the alarms do not depend on the dashboard"


def test_the_dashboard_graphs_the_configured_namespace() -> None:
    # The construct alone, in a bare stack: a second whole-app synthesis would cost seconds.
    from aws_cdk import App, Stack
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_sqs as sqs

    from stacks.dashboard import PipelineDashboard

    app = App()
    stack = Stack(app, "Bare")
    queue = sqs.Queue.from_queue_arn(stack, "Q", "arn:aws:sqs:us-east-1:111122223333:q")
    PipelineDashboard(
        stack,
        "Dashboard",
        namespace=CUSTOM_NAMESPACE,
        function=lambda_.Function.from_function_arn(
            stack, "F", "arn:aws:lambda:us-east-1:111122223333:function:f"
        ),
        queue=queue,
        dead_letter_queue=queue,
        delivery_dead_letter_queue=queue,
        alarms=[],
        oldest_message_seconds=600,
        max_concurrency=5,
    )
    body = dashboard_body(app.synth().get_stack_by_name("Bare").template)
    namespaces = {
        line[0]
        for w in body["widgets"]
        if "metrics" in w["properties"]
        for line in metric_lines(w["properties"])
    }
    assert CUSTOM_NAMESPACE in namespaces and NAMESPACE not in namespaces
    (search,) = expressions(widget(body, "Failures per minute by error type"))
    assert f'{{"{CUSTOM_NAMESPACE}",' in search


@pytest.mark.parametrize(
    "namespace", ["AWS/Lambda", ":Celebs", "   ", "", "x" * 256, "Celebs*", "Célébrités"]
)
def test_a_namespace_cloudwatch_refuses_is_refused_at_synthesis(namespace: str) -> None:
    with pytest.raises(ConfigError, match=r"metrics_namespace.*expected a CloudWatch namespace"):
        load_config({"metrics_namespace": namespace})


@pytest.mark.parametrize("namespace", ["CelebrityRecognition", CUSTOM_NAMESPACE, "a.b-c_d/e#f:g", "x" * 255])
def test_namespaces_cloudwatch_accepts_are_accepted(namespace: str) -> None:
    assert load_config({"metrics_namespace": namespace}).metrics_namespace == namespace
    assert re.fullmatch(SETTINGS_BY_KEY["metrics_namespace"].pattern or "", namespace)


# --------------------------------------------------------------------------------------------
# With the watchlist or stored video on (the session's variants: no synthesis of their own).


@pytest.fixture(scope="module", params=["watchlist", "video"])
def part_template(request: pytest.FixtureRequest, synth_template: Callable[..., dict[str, Any]]) -> Any:
    return request.param, synth_template(**VARIANTS[request.param])


def test_the_alarm_widget_shows_every_alarm_of_the_stack_with_each_part(part_template: Any) -> None:
    part, template = part_template
    alarms = widget(dashboard_body(template), "Alarms")["alarms"]
    every = resources(template, "AWS::CloudWatch::Alarm")
    assert sorted(alarms) == sorted(f"${{{alarm}.Arn}}" for alarm in every)
    # The recognition function's five, and the part's own.
    main = [alarm for alarm in every if alarm.startswith("Alarms")]
    own = [alarm for alarm in every if alarm.startswith(part.capitalize())]
    assert len(main) == 5 and own and len(alarms) == len(main) + len(own)


def _own_lines(body: dict[str, Any], title: str) -> list[tuple[str, str, str]]:
    """(metric name, function dimension, statistic) of a widget's lines in the default namespace."""
    return [
        (name, dimensions[METRIC_FUNCTION_DIMENSION], options["stat"])
        for namespace, name, dimensions, options in metric_lines(widget(body, title))
        if namespace == NAMESPACE and set(dimensions) == {METRIC_FUNCTION_DIMENSION}
    ]


def test_the_watchlist_functions_metrics_are_graphed_per_its_function(
    synth_template: Callable[..., dict[str, Any]],
) -> None:
    template = synth_template(**VARIANTS["watchlist"])
    body = dashboard_body(template)
    watchlist = "${" + logical_id_of(template, "WatchlistFunction") + "}"
    assert _own_lines(body, "Watchlist: faces searched, too small and matches per minute") == [
        (WatchlistMetricName.FACES_SEARCHED, watchlist, "Sum"),
        (WatchlistMetricName.FACES_TOO_SMALL, watchlist, "Sum"),
        (WatchlistMetricName.WATCHLIST_MATCHES, watchlist, "Sum"),
    ]
    assert _own_lines(body, "Watchlist search latency") == [
        (WatchlistMetricName.WATCHLIST_SEARCH_LATENCY, watchlist, p) for p in ("p50", "p90", "p99")
    ]
    graphed = {
        name
        for w in body["widgets"]
        if "metrics" in w["properties"]
        for _, name, _, _ in metric_lines(w["properties"])
    }
    assert not {str(name) for name in VideoMetricName} & graphed


def test_the_video_functions_metrics_are_graphed_per_the_function_that_publishes_them(
    synth_template: Callable[..., dict[str, Any]],
) -> None:
    template = synth_template(**VARIANTS["video"])
    body = dashboard_body(template)
    start = "${" + logical_id_of(template, "VideoStartFunction") + "}"
    results = "${" + logical_id_of(template, "VideoResultsFunction") + "}"
    assert _own_lines(body, "Video jobs per minute") == [
        (VideoMetricName.JOBS_STARTED, start, "Sum"),
        (VideoMetricName.STARTS_DEFERRED, start, "Sum"),
        (VideoMetricName.JOBS_SUCCEEDED, results, "Sum"),
        (VideoMetricName.JOBS_FAILED, start, "Sum"),
        (VideoMetricName.JOBS_FAILED, results, "Sum"),
    ]
    titles = {w["properties"].get("title") for w in body["widgets"]}
    assert not any(str(title).startswith("Watchlist") for title in titles)
