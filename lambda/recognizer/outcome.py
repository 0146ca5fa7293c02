"""What became of one image: the outcome vocabulary of the whole function."""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

from recognizer.contract import ImageRef, RecognitionResult


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"  # analyzed now (and stored, with a results table)
    DUPLICATE = "duplicate"  # this version already had a result: answered from it, nothing paid
    REUSED = "reused"  # the same bytes were analyzed before: stored from that analysis, nothing paid
    SKIPPED = "skipped"  # an upload event for an object its uploader analyzes on request
    FAILED = "failed"  # a permanent failure, recorded; retrying cannot help
    RETRY = "retry"  # handed back (to SQS or Lambda) so that a later attempt can succeed


class Analysis(NamedTuple):
    image: ImageRef | None  # the version S3 served once the read succeeded; None if no image was named
    outcome: Outcome
    result: RecognitionResult | None = None
    error: Exception | None = None
    # How long RecognizeCelebrities took (botocore's retries included), answered or failed; None: not called.
    rekognition_ms: float | None = None

    @property
    def celebrity_count(self) -> int:
        return len(self.result["celebrities"]) if self.result else 0
