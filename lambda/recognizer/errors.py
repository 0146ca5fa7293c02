"""Named errors the function raises or records.

Lambda reports an exception's class name as ``errorType``, so each failure mode gets its own class
and a message that names the object and says what was expected. ``retryable`` tells the batch and
notification paths whether handing the record back to Lambda/SQS can help; ``cause`` tells a
recorded failure whether the image itself is at fault (only a new upload changes that verdict).
"""

from __future__ import annotations

from typing import Any, ClassVar

from recognizer.contract import FailureCause


class RecognitionError(Exception):
    """Base class: one failure while analysing one image (or one event)."""

    retryable: ClassVar[bool] = False
    cause: ClassVar[FailureCause] = FailureCause.ENVIRONMENT

    def __init__(
        self,
        message: str,
        *,
        bucket: str | None = None,
        key: str | None = None,
        version_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.bucket = bucket
        self.key = key
        self.version_id = version_id

    @property
    def error_type(self) -> str:
        return type(self).__name__

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.error_type, "message": self.message}


class ConfigurationError(RecognitionError):
    """An environment variable the stack sets has a value the function cannot use."""


class InvalidEventError(RecognitionError):
    """The event (or one record or SQS body in it) is not a shape this function accepts."""


class ImageNotFoundError(RecognitionError):
    """The bucket, key or version does not exist."""


class ImageArchivedError(RecognitionError):
    """The object is in an archive storage class: it can be analyzed once restored."""


class DeploymentError(RecognitionError):
    """The deployment, not the image, stopped the analysis (a missing grant, a KMS key, a region).

    Never recorded as a verdict on the image: the message goes back to the queue, ends in the
    dead-letter queue (which alarms) and can be redriven once the deployment is fixed.
    """

    retryable = True


class ImageAccessDeniedError(DeploymentError):
    """The function role (or Rekognition acting for it) may not read the object, or its KMS key."""


class WrongRegionError(DeploymentError):
    """The bucket lives in another region; Rekognition only reads same-region buckets."""


class RekognitionCannotReadError(DeploymentError):
    """Rekognition could not read an object S3 had just served (InvalidS3ObjectException)."""


class RekognitionAccessDeniedError(DeploymentError):
    """The function role may not call Rekognition."""


class StorageAccessDeniedError(DeploymentError):
    """The function role may not write the results table (or use its KMS key)."""


class ImageContentError(RecognitionError):
    """The image's bytes are the problem: only a new upload can change the verdict."""

    cause = FailureCause.IMAGE


class UnsupportedImageFormatError(ImageContentError):
    """The object is neither JPEG nor PNG."""


class EmptyImageError(ImageContentError):
    """The object has zero bytes."""


class ImageTooLargeError(ImageContentError):
    """The object is above Rekognition's 15 MB limit for S3 images."""


class ImageTooSmallError(ImageContentError):
    """One side of the image is below Rekognition's 80 px minimum."""


class InvalidImageError(ImageContentError):
    """Rekognition (or S3) rejected the image for another permanent reason."""


class RekognitionThrottledError(RecognitionError):
    """Rekognition kept throttling after botocore's bounded retries."""

    retryable = True


class ServiceUnavailableError(RecognitionError):
    """An AWS service kept failing with a transient error (5xx, throttling, timeout)."""

    retryable = True


class StorageError(RecognitionError):
    """The result could not be written to the results table.

    Retryable on purpose: the analysis is lost if the record is dropped, so the message goes back to
    SQS (and to its dead-letter queue once maxReceiveCount is reached) rather than disappearing.
    """

    retryable = True


class UnexpectedServiceError(RecognitionError):
    """An AWS error code this function does not know; retried because it may be transient."""

    retryable = True
