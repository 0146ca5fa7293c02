"""The stack: storage, results table, function, and the event path that feeds it."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from stacks.alarms import PipelineAlarms
from stacks.config import PipelineConfig
from stacks.ingestion import UploadIngestion
from stacks.recognition_function import RecognitionFunction
from stacks.results_table import ResultsTable
from stacks.storage import ImageStorage


class CelebrityRecognitionStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: PipelineConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)

        storage = ImageStorage(
            self, "Storage", dev=config.is_dev, noncurrent_days=config.noncurrent_version_expiration_days
        )
        results = ResultsTable(self, "Results", dev=config.is_dev).table if config.results_table else None
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
        PipelineAlarms(
            self,
            "Alarms",
            function=recognition.function,
            queue=ingestion.queue,
            dead_letter_queue=ingestion.dead_letter_queue,
            oldest_message_seconds=config.oldest_message_alarm_seconds,
            email=config.alarm_email,
        )

        self.images_bucket = storage.images
        self.function = recognition.function
        self.results_table = results

        # Names the `celeb` client reads; keep them stable.
        CfnOutput(self, "ImagesBucketName", value=storage.images.bucket_name)
        CfnOutput(self, "FunctionName", value=recognition.function.function_name)
        CfnOutput(self, "FunctionArn", value=recognition.function.function_arn)
        if results is not None:
            CfnOutput(self, "ResultsTableName", value=results.table_name)
        CfnOutput(self, "QueueUrl", value=ingestion.queue.queue_url)
        CfnOutput(self, "DeadLetterQueueUrl", value=ingestion.dead_letter_queue.queue_url)
