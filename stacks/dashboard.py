"""The pipeline on one CloudWatch dashboard: what the functions did, what waits, what alarms.

Hand-built from aws_cloudwatch's widgets rather than cdk-monitoring-constructs: a dozen widgets
cost a few jsii calls, while that library adds a jsii package (a 7 MB Python module, a jsii bundle
of 10 MB unpacked) loaded at every synthesis, and alarms of its own beside stacks/alarms.py (README,
"Metrics and dashboard", has the measurements).
The functions' own figures come from their Embedded Metric Format lines (recognizer/metrics.py),
under the contract's metric names and the `metrics_namespace` setting; the watchlist's and the
stored video's rows are there when those parts are.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from recognizer.contract import (
    METRIC_ERROR_TYPE_DIMENSION,
    METRIC_FUNCTION_DIMENSION,
    MetricName,
    VideoMetricName,
    WatchlistMetricName,
)

# "Per minute" graphs; the single values cover the dashboard's whole time range instead.
_MINUTE = Duration.minutes(1)
_FULL = 24  # a dashboard row is 24 units wide
_HALF = 12
_THIRD = 8
_HEIGHT = 6
LATENCY_PERCENTILES = ("p50", "p90", "p99")


class PipelineDashboard(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        namespace: str,
        function: lambda_.IFunction,
        queue: sqs.IQueue,
        dead_letter_queue: sqs.IQueue,
        delivery_dead_letter_queue: sqs.IQueue,
        alarms: Sequence[cloudwatch.IAlarm],
        oldest_message_seconds: int,
        max_concurrency: int,
        watchlist_function: lambda_.IFunction | None = None,
        video_start_function: lambda_.IFunction | None = None,
        video_results_function: lambda_.IFunction | None = None,
    ) -> None:
        """`alarms`: every alarm of the stack; the watchlist's and the video functions' rows are added
        when they are given."""
        super().__init__(scope, construct_id)
        self._namespace = namespace
        self._function_name = function.function_name

        def own(name: MetricName, statistic: str, label: str) -> cloudwatch.Metric:
            return self.metric(name, statistic=statistic, label=label)

        totals = cloudwatch.SingleValueWidget(
            title="In the selected time range",
            metrics=[
                own(MetricName.IMAGES_ANALYZED, "Sum", "images analyzed"),
                own(MetricName.CELEBRITIES_FOUND, "Sum", "celebrities found"),
                own(MetricName.UNRECOGNIZED_FACES, "Sum", "faces without a match"),
                own(MetricName.ANSWERED_FROM_TABLE, "Sum", "answered from the table (no Rekognition call)"),
                own(MetricName.FAILURES, "Sum", "failures"),
            ],
            set_period_to_time_range=True,
            width=_FULL,
            height=4,
        )
        images = cloudwatch.GraphWidget(
            title="Images analyzed per minute",
            left=[
                own(MetricName.IMAGES_ANALYZED, "Sum", "analyzed"),
                own(MetricName.ANSWERED_FROM_TABLE, "Sum", "of them answered from the table"),
                own(MetricName.FAILURES, "Sum", "failed"),
            ],
            left_y_axis=cloudwatch.YAxisProps(min=0, label="images", show_units=False),
            width=_HALF,
            height=_HEIGHT,
        )
        failures = cloudwatch.GraphWidget(
            title="Failures per minute by error type",
            # One line per error class that occurred: the set is closed but long, and a SEARCH draws
            # only those with data, without naming them here.
            left=[self.failures_by_type()],
            left_y_axis=cloudwatch.YAxisProps(min=0, label="images", show_units=False),
            width=_HALF,
            height=_HEIGHT,
        )
        latency = cloudwatch.GraphWidget(
            title="Rekognition latency (RecognizeCelebrities, retries included)",
            left=[own(MetricName.REKOGNITION_LATENCY, p, p) for p in LATENCY_PERCENTILES],
            left_y_axis=cloudwatch.YAxisProps(min=0, label="ms", show_units=False),
            width=_HALF,
            height=_HEIGHT,
        )
        findings = cloudwatch.GraphWidget(
            title="Celebrities and faces without a match per minute",
            left=[
                own(MetricName.CELEBRITIES_FOUND, "Sum", "celebrities"),
                own(MetricName.UNRECOGNIZED_FACES, "Sum", "faces without a match"),
            ],
            left_y_axis=cloudwatch.YAxisProps(min=0, show_units=False),
            width=_HALF,
            height=_HEIGHT,
        )
        waiting = cloudwatch.GraphWidget(
            title="Upload queue: depth and age of the oldest upload",
            left=[
                queue.metric_approximate_number_of_messages_visible(
                    period=_MINUTE, statistic="Maximum", label="waiting"
                ),
                queue.metric_approximate_number_of_messages_not_visible(
                    period=_MINUTE, statistic="Maximum", label="being analyzed"
                ),
            ],
            right=[
                queue.metric_approximate_age_of_oldest_message(
                    period=_MINUTE, statistic="Maximum", label="oldest upload (s)"
                )
            ],
            right_annotations=[
                cloudwatch.HorizontalAnnotation(value=oldest_message_seconds, label="alarm", fill=None)
            ],
            left_y_axis=cloudwatch.YAxisProps(min=0, label="messages", show_units=False),
            right_y_axis=cloudwatch.YAxisProps(min=0, label="seconds", show_units=False),
            width=_HALF,
            height=_HEIGHT,
        )
        dead_letters = cloudwatch.GraphWidget(
            title="Dead-letter queues (any message alarms)",
            left=[
                dead_letter_queue.metric_approximate_number_of_messages_visible(
                    period=_MINUTE, statistic="Maximum", label="uploads that failed every retry"
                ),
                delivery_dead_letter_queue.metric_approximate_number_of_messages_visible(
                    period=_MINUTE, statistic="Maximum", label="events EventBridge could not deliver"
                ),
            ],
            left_y_axis=cloudwatch.YAxisProps(min=0, label="messages", show_units=False),
            width=_HALF,
            height=_HEIGHT,
        )
        duration = cloudwatch.GraphWidget(
            title="Function duration",
            left=[
                function.metric_duration(period=_MINUTE, statistic=statistic, label=statistic)
                for statistic in ("p50", "p99", "Maximum")
            ],
            left_y_axis=cloudwatch.YAxisProps(min=0, label="ms", show_units=False),
            width=_THIRD,
            height=_HEIGHT,
        )
        errors = cloudwatch.GraphWidget(
            title="Function errors and throttles",
            left=[
                function.metric_errors(period=_MINUTE, statistic="Sum", label="errors"),
                function.metric_throttles(period=_MINUTE, statistic="Sum", label="throttles"),
            ],
            left_y_axis=cloudwatch.YAxisProps(min=0, label="invocations", show_units=False),
            width=_THIRD,
            height=_HEIGHT,
        )
        concurrency = cloudwatch.GraphWidget(
            title="Function concurrency",
            left=[
                function.metric(
                    "ConcurrentExecutions", period=_MINUTE, statistic="Maximum", label="concurrent executions"
                )
            ],
            # The queue drives at most this many at once (max_concurrency): sized to the Rekognition quota.
            left_annotations=[
                cloudwatch.HorizontalAnnotation(value=max_concurrency, label="max_concurrency", fill=None)
            ],
            left_y_axis=cloudwatch.YAxisProps(min=0, show_units=False),
            width=_THIRD,
            height=_HEIGHT,
        )
        alarm_states = cloudwatch.AlarmStatusWidget(
            title="Alarms", alarms=list(alarms), width=_FULL, height=3
        )

        rows: list[list[cloudwatch.IWidget]] = [
            [alarm_states],
            [totals],
            [images, failures],
            [latency, findings],
            [waiting, dead_letters],
            [duration, errors, concurrency],
        ]
        if watchlist_function is not None:
            rows.append(self._watchlist_row(watchlist_function))
        if video_start_function is not None and video_results_function is not None:
            rows.append(self._video_row(video_start_function, video_results_function))

        self.dashboard = cloudwatch.Dashboard(
            self, "Dashboard", default_interval=Duration.hours(3), widgets=rows
        )

    def _watchlist_row(self, function: lambda_.IFunction) -> list[cloudwatch.IWidget]:
        def own(name: WatchlistMetricName, statistic: str, label: str) -> cloudwatch.Metric:
            return self.metric(name, statistic=statistic, label=label, function=function)

        faces = cloudwatch.GraphWidget(
            title="Watchlist: faces searched, too small and matches per minute",
            left=[
                own(WatchlistMetricName.FACES_SEARCHED, "Sum", "faces searched"),
                own(WatchlistMetricName.FACES_TOO_SMALL, "Sum", "faces too small to search"),
                own(WatchlistMetricName.WATCHLIST_MATCHES, "Sum", "matches"),
            ],
            left_y_axis=cloudwatch.YAxisProps(min=0, show_units=False),
            width=_HALF,
            height=_HEIGHT,
        )
        latency = cloudwatch.GraphWidget(
            title="Watchlist search latency",
            left=[own(WatchlistMetricName.WATCHLIST_SEARCH_LATENCY, p, p) for p in LATENCY_PERCENTILES],
            left_y_axis=cloudwatch.YAxisProps(min=0, label="ms", show_units=False),
            width=_HALF,
            height=_HEIGHT,
        )
        return [faces, latency]

    def _video_row(self, start: lambda_.IFunction, results: lambda_.IFunction) -> list[cloudwatch.IWidget]:
        def own(name: VideoMetricName, function: lambda_.IFunction, label: str) -> cloudwatch.Metric:
            return self.metric(name, statistic="Sum", label=label, function=function)

        jobs = cloudwatch.GraphWidget(
            title="Video jobs per minute",
            left=[
                own(VideoMetricName.JOBS_STARTED, start, "started"),
                own(VideoMetricName.STARTS_DEFERRED, start, "starts deferred"),
                own(VideoMetricName.JOBS_SUCCEEDED, results, "succeeded"),
                # Both functions record failures: the start function's checks and refusals, the
                # results function's failed and timed-out jobs.
                own(VideoMetricName.JOBS_FAILED, start, "failed at the start"),
                own(VideoMetricName.JOBS_FAILED, results, "failed or timed out"),
            ],
            left_y_axis=cloudwatch.YAxisProps(min=0, label="videos", show_units=False),
            width=_FULL,
            height=_HEIGHT,
        )
        return [jobs]

    def metric(
        self, name: str, *, statistic: str, label: str, function: lambda_.IFunction | None = None
    ) -> cloudwatch.Metric:
        """One of a function's own metrics (per function: the dimension every metric has); the
        recognition function's unless `function` names another."""
        return cloudwatch.Metric(
            namespace=self._namespace,
            metric_name=str(name),
            dimensions_map={
                METRIC_FUNCTION_DIMENSION: function.function_name if function else self._function_name
            },
            statistic=statistic,
            label=label,
            period=_MINUTE,
        )

    def failures_by_type(self) -> cloudwatch.MathExpression:
        # Quoted: a namespace may hold spaces and '/', which SEARCH's schema syntax needs quoted.
        schema = f'{{"{self._namespace}",{METRIC_ERROR_TYPE_DIMENSION},{METRIC_FUNCTION_DIMENSION}}}'
        name = f'MetricName="{MetricName.FAILURES}"'
        query = f'{schema} {name} {METRIC_FUNCTION_DIMENSION}="{self._function_name}"'
        return cloudwatch.MathExpression(
            expression=f"SEARCH('{query}', 'Sum', 60)", using_metrics={}, label="", period=_MINUTE
        )
