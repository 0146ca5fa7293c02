"""The stack: storage, results table, function, and the event path that feeds it."""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, CfnOutput, Fn, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from constructs import Construct

from recognizer.contract import StackOutput
from stacks.alarms import OperationalAlarms
from stacks.backfill import CloudBackfill
from stacks.config import AppConfig
from stacks.dashboard import PipelineDashboard
from stacks.ingestion import UploadIngestion
from stacks.recognition_function import RecognitionFunction
from stacks.results_table import ResultsTable
from stacks.storage import ImageStorage
from stacks.video import VideoAnalysis
from stacks.watchlist import Watchlist


class CelebrityRecognitionStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: AppConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)

        storage = ImageStorage(
            self, "Storage", dev=config.is_dev, noncurrent_days=config.noncurrent_version_expiration_days
        )
        results = (
            ResultsTable(self, "Results", dev=config.is_dev, watchlist=config.watchlist).table
            if config.results_table
            else None
        )
        ingestion = UploadIngestion(self, "Ingestion", config=config, images=storage.images)
        recognition = RecognitionFunction(
            self,
            "Recognition",
            config=config,
            images=storage.images,
            results=results,
            dead_letter_queue=ingestion.dead_letter_queue,
        )
        ingestion.feed(recognition.function)
        alarms = OperationalAlarms(
            self,
            "Alarms",
            function=recognition.function,
            queue=ingestion.queue,
            dead_letter_queue=ingestion.dead_letter_queue,
            delivery_dead_letter_queue=ingestion.delivery_dead_letter_queue,
            oldest_message_seconds=config.oldest_message_alarm_seconds,
            email=config.alarm_email,
        )

        backfill = None
        if config.cloud_backfill:
            backfill = CloudBackfill(
                self,
                "Backfill",
                config=config,
                images=storage.images,
                access_logs=storage.access_logs,
                queue=ingestion.queue,
                results=results,
            )

        watchlist = None
        if config.watchlist:
            assert results is not None  # load_config refuses a watchlist without the results table
            watchlist = Watchlist(
                self,
                "Watchlist",
                config=config,
                images=storage.images,
                results=results,
                ingestion=ingestion,
                alarm_topic=alarms.topic,
            )
        video = None
        if config.video:
            # load_config refuses video without the results table: the jobs are recorded there.
            assert results is not None
            video = VideoAnalysis(
                self, "Video", config=config, images=storage.images, access_logs=storage.access_logs,
                results=results,
            )  # fmt: skip
            if alarms.topic is not None:
                for alarm in video.alarms:
                    alarm.add_alarm_action(actions.SnsAction(alarms.topic))

        dashboard = None
        if config.dashboard:
            # Last: it shows the state of every alarm of the stack, the watchlist's and video's included.
            dashboard = PipelineDashboard(
                self,
                "Dashboard",
                namespace=config.metrics_namespace,
                function=recognition.function,
                queue=ingestion.queue,
                dead_letter_queue=ingestion.dead_letter_queue,
                delivery_dead_letter_queue=ingestion.delivery_dead_letter_queue,
                alarms=[node for node in self.node.find_all() if isinstance(node, cloudwatch.Alarm)],
                oldest_message_seconds=config.oldest_message_alarm_seconds,
                max_concurrency=config.max_concurrency,
                watchlist_function=watchlist.function if watchlist is not None else None,
                video_start_function=video.start_function if video is not None else None,
                video_results_function=video.results_function if video is not None else None,
            ).dashboard

        self.images_bucket = storage.images
        self.function = recognition.function
        self.results_table = results

        # The names the `celeb` client reads (the contract's StackOutput).
        outputs = {
            StackOutput.IMAGES_BUCKET: storage.images.bucket_name,
            StackOutput.FUNCTION_NAME: recognition.function.function_name,
            StackOutput.FUNCTION_ARN: recognition.function.function_arn,
            StackOutput.QUEUE_URL: ingestion.queue.queue_url,
            StackOutput.DEAD_LETTER_QUEUE_URL: ingestion.dead_letter_queue.queue_url,
        }
        if results is not None:
            outputs[StackOutput.RESULTS_TABLE] = results.table_name
        if backfill is not None:
            outputs[StackOutput.BACKFILL_STATE_MACHINE] = backfill.state_machine.state_machine_arn
        if dashboard is not None:
            outputs[StackOutput.DASHBOARD_NAME] = dashboard.dashboard_name
            # The aws partition's console; other partitions have consoles of their own.
            outputs[StackOutput.DASHBOARD_URL] = Fn.join("", [
                "https://", Aws.REGION, ".console.aws.amazon.com/cloudwatch/home?region=", Aws.REGION,
                "#dashboards/dashboard/", dashboard.dashboard_name,
            ])  # fmt: skip
        if watchlist is not None:
            outputs[StackOutput.WATCHLIST_COLLECTION] = watchlist.collection.ref
            outputs[StackOutput.WATCHLIST_FUNCTION_NAME] = watchlist.function.function_name
        if video is not None:
            outputs[StackOutput.VIDEO_TIMELINES_BUCKET] = video.timelines.bucket_name
            outputs[StackOutput.VIDEO_START_QUEUE_URL] = video.start_queue.queue_url
            outputs[StackOutput.VIDEO_DEAD_LETTER_QUEUE_URL] = video.start_dead_letter_queue.queue_url
        for name, value in outputs.items():
            CfnOutput(self, str(name), value=value)
