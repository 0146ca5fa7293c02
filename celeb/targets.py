"""What `recognize` was asked to analyze: local files (checked before any upload) or S3 URIs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from celeb.errors import UsageProblem
from celeb.video import LocalVideo, check_local_video
from recognizer.contract import (
    IMAGE_FORMATS,
    MAGIC_BYTES_NEEDED,
    ImageFormat,
    ImageRef,
    detect_format,
    is_video_key,
)

# "JPEG or PNG": the formats Rekognition reads, named for messages.
FORMAT_NAMES = " or ".join(image_format.name.upper() for image_format in IMAGE_FORMATS)


@dataclass(frozen=True)
class LocalImage:
    path: Path
    image_format: ImageFormat  # from the file's leading bytes, whatever its name says

    @property
    def content_type(self) -> str:
        return self.image_format.content_type


@dataclass(frozen=True)
class Target:
    """One argument of `recognize`, as typed in `source`, and where its image is (or will be) in S3.

    Local files go to the stack's images bucket, which is only known once the stack is looked up,
    hence `bucket` None.
    """

    source: str
    key: str
    bucket: str | None = None
    upload: LocalImage | None = None
    video: LocalVideo | None = None  # a local video to upload (.mp4/.mov)

    def ref(self, images_bucket: str) -> ImageRef:
        return ImageRef(self.bucket or images_bucket, self.key)

    @property
    def is_video(self) -> bool:
        """Videos start a Rekognition job instead of invoking the function (celeb.video)."""
        return self.video is not None or (self.upload is None and is_video_key(self.key))


def parse_s3_uri(text: str) -> ImageRef | None:
    """`s3://bucket/key` as an ImageRef; None when the text is not an S3 URI at all."""
    if not text.startswith("s3://"):
        return None
    bucket, _, key = text.removeprefix("s3://").partition("/")
    if not bucket or not key:
        raise UsageProblem(f"{text}: an S3 URI needs a bucket and a key: s3://BUCKET/KEY")
    return ImageRef(bucket, key)


def check_local_image(text: str) -> LocalImage:
    """The file's format from its leading bytes; its size is the function's to check (it reads the header)."""
    path = Path(text)
    try:
        with path.open("rb") as file:
            head = file.read(MAGIC_BYTES_NEEDED)
    except FileNotFoundError:
        raise UsageProblem(f"{text}: no such file") from None
    except IsADirectoryError:
        raise UsageProblem(f"{text}: is a directory, not an image file") from None
    except OSError as exc:
        raise UsageProblem(f"{text}: cannot read: {exc.strerror}") from None
    image_format = detect_format(head)
    if image_format is None:
        leading = head[:4].hex(" ") or "none"
        raise UsageProblem(f"{text}: not a {FORMAT_NAMES} image (leading bytes: {leading})")
    return LocalImage(path, image_format)


def resolve_targets(arguments: list[str], *, prefix: str) -> list[Target]:
    """Check every argument before anything is uploaded, so a typo leaves no half-done upload."""
    targets: list[Target] = []
    seen: dict[str, str] = {}
    # The same argument twice would upload and analyze one image twice, concurrently.
    for argument in dict.fromkeys(arguments):
        ref = parse_s3_uri(argument)
        if ref is not None:
            targets.append(Target(argument, ref.key, bucket=ref.bucket))
            continue
        video = check_local_video(argument) if is_video_key(argument) else None
        local = check_local_image(argument) if video is None else None
        # The key is the prefix and the bare file name, as is: S3 prefixes are plain strings.
        key = prefix + Path(argument).name
        if key in seen:
            raise UsageProblem(f"{seen[key]} and {argument} would both upload to the key {key!r}")
        seen[key] = argument
        targets.append(Target(argument, key, upload=local, video=video))
    return targets
