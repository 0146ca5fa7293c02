"""StartCelebrityRecognition and GetCelebrityRecognition, with their errors mapped to named ones.

botocore's standard and adaptive retry modes already retry ThrottlingException,
ProvisionedThroughputExceededException and LimitExceededException a few times; what reaches this
module has exhausted those attempts.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

from botocore.exceptions import BotoCoreError, ClientError

from recognizer import aws_errors
from recognizer.contract import ImageRef, video_job_token
from recognizer.errors import (
    InvalidEventError,
    RecognitionError,
    RekognitionAccessDeniedError,
    RekognitionCannotReadError,
    ServiceUnavailableError,
    UnexpectedServiceError,
)
from recognizer.video.errors import (
    VideoJobLimitError,
    VideoJobNotFoundError,
    VideoTooLargeError,
)

PAGE_SIZE = 1000  # GetCelebrityRecognition's most results a page
# Start again later, never a verdict on the video: the account's job quota, or the call rate.
_LATER = frozenset(
    {"LimitExceededException", "ThrottlingException", "ProvisionedThroughputExceededException"}
)


class JobPage(NamedTuple):
    status: str  # IN_PROGRESS | SUCCEEDED | FAILED
    status_message: str | None
    celebrities: list[dict[str, Any]]  # CelebrityRecognition entries: Timestamp, Celebrity
    video: ImageRef | None  # the analyzed object version, when the response names it
    duration_ms: int | None


def start_job(client: Any, ref: ImageRef, *, topic_arn: str, role_arn: str) -> str:
    """The job id of `ref`'s celebrity recognition; the same job again for the same version."""
    s3_object: dict[str, str] = {"Bucket": ref.bucket, "Name": ref.key}
    if ref.version_id:
        s3_object["Version"] = ref.version_id
    try:
        response = client.start_celebrity_recognition(
            Video={"S3Object": s3_object},
            ClientRequestToken=video_job_token(ref.bucket, ref.key, ref.version_id),
            NotificationChannel={"SNSTopicArn": topic_arn, "RoleArn": role_arn},
        )
    except ClientError as error:
        raise _map_error(error, ref, "StartCelebrityRecognition") from error
    except BotoCoreError as error:
        raise aws_errors.from_botocore_error(error, ref, "Rekognition") from error
    job_id = response.get("JobId") if isinstance(response, dict) else None
    if not isinstance(job_id, str) or not job_id:
        raise UnexpectedServiceError(
            f"StartCelebrityRecognition for {ref.describe()} answered without a JobId (got "
            f"{job_id!r}): expected the started job's id",
            **ref.error_fields(),
        )
    return job_id


def job_pages(client: Any, job_id: str, ref: ImageRef | None = None) -> Iterator[JobPage]:
    """Every page of the job's results, sorted by timestamp (one page while it runs or after it failed)."""
    where = ref or ImageRef("?", f"job {job_id}")
    token: str | None = None
    while True:
        request: dict[str, Any] = {"JobId": job_id, "MaxResults": PAGE_SIZE, "SortBy": "TIMESTAMP"}
        if token:
            request["NextToken"] = token
        try:
            response = client.get_celebrity_recognition(**request)
        except ClientError as error:
            raise _map_error(error, where, "GetCelebrityRecognition", job_id) from error
        except BotoCoreError as error:
            raise aws_errors.from_botocore_error(error, where, "Rekognition") from error
        yield _page(response)
        token = response.get("NextToken")
        if not token or response.get("JobStatus") != "SUCCEEDED":
            return


def _page(response: dict[str, Any]) -> JobPage:
    s3_object = (response.get("Video") or {}).get("S3Object") or {}
    video = None
    if s3_object.get("Bucket") and s3_object.get("Name"):
        video = ImageRef(s3_object["Bucket"], s3_object["Name"], s3_object.get("Version") or None)
    duration = (response.get("VideoMetadata") or {}).get("DurationMillis")
    return JobPage(
        status=str(response.get("JobStatus")),
        status_message=response.get("StatusMessage"),
        celebrities=list(response.get("Celebrities") or []),
        video=video,
        duration_ms=int(duration) if isinstance(duration, int) else None,
    )


def _map_error(
    error: ClientError, ref: ImageRef, operation: str, job_id: str | None = None
) -> RecognitionError:
    code = aws_errors.error_code(error)
    detail = aws_errors.describe_client_error(error)
    where = ref.describe()
    named = ref.error_fields()
    if code in _LATER:
        return VideoJobLimitError(f"{operation} for {where}: Rekognition says later ({detail})", **named)
    if code == "ResourceNotFoundException":
        return VideoJobNotFoundError(
            f"Rekognition does not know job {job_id} of {where} ({detail}): results are kept 7 days", **named
        )
    if code == "VideoTooLargeException":
        return VideoTooLargeError(f"Rekognition refused {where} as too large ({detail})", **named)
    if code == "InvalidS3ObjectException":
        return RekognitionCannotReadError(
            f"Rekognition could not read {where} ({detail}): expected a bucket in the function's region "
            "whose objects the function role may read",
            **named,
        )
    if code == "AccessDeniedException":
        return RekognitionAccessDeniedError(
            f"{operation} was refused for {where} ({detail}): the function role needs "
            f"rekognition:{operation} (and iam:PassRole on the notification role to start a job)",
            **named,
        )
    if code in ("InvalidParameterException", "IdempotentParameterMismatchException"):
        return InvalidEventError(f"Rekognition rejected {operation} for {where} ({detail})", **named)
    if aws_errors.is_transient(error):
        return ServiceUnavailableError(
            f"Rekognition kept failing for {where} after retries ({detail})", **named
        )
    return UnexpectedServiceError(f"Rekognition {operation} failed for {where} ({detail})", **named)
