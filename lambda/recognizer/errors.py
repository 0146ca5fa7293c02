"""Named errors the function raises or records.

Lambda reports an exception's class name as ``errorType``, so each failure mode gets its own class
and a message that names the object and says what was expected. ``retryable`` tells the batch and
notification paths whether handing the record back to Lambda/SQS can help.
"""

from __future__ import annotations

from typing import Any, ClassVar


class RecognitionError(Exception):
    """Base class: one failure while analysing one image (or one event)."""

    retryable: ClassVar[bool] = False

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


class ImageAccessDeniedError(RecognitionError):
    """The function role (or Rekognition acting for it) may not read the object."""


class WrongRegionError(RecognitionError):
    """The bucket lives in another region; Rekognition only reads same-region buckets."""


class UnsupportedImageFormatError(RecognitionError):
    """The object is neither JPEG nor PNG."""


class EmptyImageError(RecognitionError):
    """The object has zero bytes."""


class ImageTooLargeError(RecognitionError):
    """The object is above Rekognition's 15 MB limit for S3 images."""


class ImageTooSmallError(RecognitionError):
    """One side of the image is below Rekognition's 80 px minimum."""


class InvalidImageError(RecognitionError):
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
