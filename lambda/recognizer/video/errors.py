"""Named errors of the video path, beside the image path's (recognizer.errors)."""

from __future__ import annotations

from recognizer.contract import FailureCause
from recognizer.errors import RecognitionError


class VideoContentError(RecognitionError):
    """The video's bytes are the problem: only a new upload changes the verdict. No job is started."""

    cause = FailureCause.IMAGE  # "the uploaded object itself", for images and videos alike


class EmptyVideoError(VideoContentError):
    """The object has zero bytes."""


class VideoTooLargeError(VideoContentError):
    """Above Rekognition's 10 GB limit for a stored video."""


class VideoTooLongError(VideoContentError):
    """Longer than Rekognition's 6 hours (read from the container's `mvhd` box)."""


class UnsupportedVideoFormatError(VideoContentError):
    """Not an MP4/MOV (ISO base media) file: no `moov` box among its top-level boxes."""


class UnsupportedVideoCodecError(VideoContentError):
    """No H.264 video track (e.g. HEVC, ProRes, or audio only)."""


class VideoJobFailedError(RecognitionError):
    """Rekognition reported the job FAILED; its StatusMessage says why."""


class VideoJobTimeoutError(RecognitionError):
    """No completion arrived within video_job_timeout_minutes and the job still ran when asked.

    Recorded, not final: a completion that arrives later still records the result.
    """


class VideoJobNotFoundError(RecognitionError):
    """Rekognition no longer knows the job (results are kept 7 days)."""


class VideoJobLimitError(RecognitionError):
    """Rekognition's concurrent-job quota (or this stack's cap) is reached: start again later."""

    retryable = True
