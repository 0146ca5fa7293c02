"""What `recognize` was asked to analyze: local files (checked before any upload) or S3 URIs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from celeb.errors import UsageProblem

# Rekognition accepts only JPEG and PNG; a file's leading bytes say which it is, whatever its name.
JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class ImageRef:
    bucket: str
    key: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class LocalImage:
    path: Path
    content_type: str


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

    def ref(self, images_bucket: str) -> ImageRef:
        return ImageRef(self.bucket or images_bucket, self.key)


def content_type_of(head: bytes) -> str | None:
    if head.startswith(JPEG_MAGIC):
        return "image/jpeg"
    if head.startswith(PNG_MAGIC):
        return "image/png"
    return None


def parse_s3_uri(text: str) -> ImageRef | None:
    """`s3://bucket/key` as an ImageRef; None when the text is not an S3 URI at all."""
    if not text.startswith("s3://"):
        return None
    bucket, _, key = text.removeprefix("s3://").partition("/")
    if not bucket or not key:
        raise UsageProblem(f"{text}: an S3 URI needs a bucket and a key: s3://BUCKET/KEY")
    return ImageRef(bucket, key)


def check_local_image(text: str) -> LocalImage:
    path = Path(text)
    try:
        with path.open("rb") as file:
            head = file.read(len(PNG_MAGIC))
    except FileNotFoundError:
        raise UsageProblem(f"{text}: no such file") from None
    except IsADirectoryError:
        raise UsageProblem(f"{text}: is a directory, not an image file") from None
    except OSError as exc:
        raise UsageProblem(f"{text}: cannot read: {exc.strerror}") from None
    content_type = content_type_of(head)
    if content_type is None:
        raise UsageProblem(f"{text}: not a JPEG or PNG image (leading bytes: {head[:4].hex(' ') or 'none'})")
    return LocalImage(path, content_type)


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
        local = check_local_image(argument)
        # The key is the prefix and the bare file name, as is: S3 prefixes are plain strings.
        key = prefix + local.path.name
        if key in seen:
            raise UsageProblem(f"{seen[key]} and {argument} would both upload to the key {key!r}")
        seen[key] = argument
        targets.append(Target(argument, key, upload=local))
    return targets
