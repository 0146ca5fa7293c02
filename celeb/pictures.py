"""Annotated pictures on disk: `celeb show` (a stored result) and `celeb recognize --annotate DIR`.

The drawing itself is `celeb.annotate`'s; this module fetches the image version, its result and,
when the stack has a watchlist, that version's watchlist matches, decodes the bytes and writes the
file.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError
from PIL import Image, UnidentifiedImageError

from celeb.annotate import annotate, boxes_of
from celeb.aws import error_code
from celeb.errors import CelebError, ConfigProblem, UsageProblem
from celeb.recognize import TargetResult
from celeb.results import version_summary
from recognizer.contract import (
    PARTITION_KEY,
    PERSON_MARKER,
    SORT_KEY,
    ContractError,
    ImageRef,
    RecognitionResult,
    ResultStatus,
    failure_of,
    image_pk,
    result_of,
    watchlist_match_of,
    watchlist_summary_sk,
)

# What an annotated picture may be saved as, by the output file's suffix (any case).
OUTPUT_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}
_SUFFIX_OF_FORMAT = {"PNG": ".png", "JPEG": ".jpg"}
# High quality and no chroma subsampling: thin coloured outlines and small text stay sharp.
JPEG_OPTIONS = {"quality": 95, "subsampling": 0}


class NoResult(UsageProblem):
    """The image version named has no stored result (never analyzed, or another version was)."""


class AnalysisFailed(CelebError):
    """The stored result of the version is a recorded failure: there is nothing to draw."""


def output_format(path: Path) -> str:
    """The Pillow format for an output file, from its suffix; checked before any AWS call."""
    image_format = OUTPUT_FORMATS.get(path.suffix.lower())
    if image_format is None:
        raise UsageProblem(f"{path}: the annotated picture's name must end in .png, .jpg or .jpeg")
    return image_format


def decode(data: bytes, source: str) -> Image.Image:
    """The image in `data`, loaded; UsageProblem when Pillow cannot read it."""
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except Image.DecompressionBombError as exc:
        raise UsageProblem(f"{source}: too many pixels to draw on safely ({exc})") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        # Pillow reports truncated and corrupt files as OSError or SyntaxError.
        raise UsageProblem(f"{source}: cannot decode the image to draw on it ({exc})") from None
    return image


def write(image: Image.Image, path: Path, image_format: str) -> None:
    if image_format == "JPEG" and image.mode != "RGB":
        image = image.convert("RGB")  # JPEG has no transparency
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path, format=image_format, **(JPEG_OPTIONS if image_format == "JPEG" else {}))
    except OSError as exc:
        raise UsageProblem(f"{path}: cannot write the annotated picture: {exc.strerror or exc}") from None


def read_version(s3: Any, ref: ImageRef) -> tuple[bytes, ImageRef]:
    """The object's bytes and `ref` pinned to the version read (the latest when `ref` names none)."""
    request: dict[str, Any] = {"Bucket": ref.bucket, "Key": ref.key}
    if ref.version_id is not None:
        request["VersionId"] = ref.version_id
    try:
        response = s3.get_object(**request)
    except ClientError as exc:
        code = error_code(exc)
        if code in ("NoSuchKey", "404"):
            raise UsageProblem(f"{ref.uri}: no such object") from None
        if code in ("NoSuchVersion", "InvalidArgument") and ref.version_id is not None:
            raise UsageProblem(f"{ref.describe()}: no such version of the object") from None
        raise
    with response["Body"] as body:
        data = body.read()
    # An unversioned bucket answers without a version (or "null" once versioning was suspended).
    version = response.get("VersionId")
    return data, ref.with_version(None if version in (None, "null") else version)


def stored_result(dynamodb: Any, table: str, ref: ImageRef) -> RecognitionResult:
    item = version_summary(dynamodb, table, ref)
    if item is None:
        raise NoResult(
            f"{ref.describe()} has no stored result: analyze it with `celeb recognize {ref.uri}`, "
            f"or list the analyzed versions with `celeb results --image {ref.uri}`"
        )
    if item.get("status") != ResultStatus.SUCCEEDED:
        failure = failure_of(item)
        raise AnalysisFailed(
            f"{ref.describe()}: its analysis failed, nothing to draw "
            f"({failure['error_type']}: {failure['error_message']})",
            error_type=failure["error_type"],
        )
    return result_of(item)


@dataclass(frozen=True)
class WatchlistRecord:
    """What the watchlist recorded for one image version."""

    searched: bool  # its summary is on record: the function searched the version's faces
    matches: list[dict[str, Any]]  # `watchlist_match_of`'s shape, most similar first


def watchlist_record(dynamodb: Any, table: str, ref: ImageRef) -> WatchlistRecord:
    """The watchlist's summary and matches of the version `ref` names (None: an unversioned object)."""
    summary_sk = watchlist_summary_sk(ref.version_id)
    pages = dynamodb.get_paginator("query").paginate(
        TableName=table,
        KeyConditionExpression="#pk = :pk AND begins_with(#sk, :version)",
        ExpressionAttributeNames={"#pk": PARTITION_KEY, "#sk": SORT_KEY},
        ExpressionAttributeValues={
            ":pk": {"S": image_pk(ref.bucket, ref.key)},
            ":version": {"S": summary_sk},
        },
    )
    searched, matches = False, []
    deserializer = TypeDeserializer()
    for page in pages:
        for raw in page.get("Items", []):
            item = {name: deserializer.deserialize(value) for name, value in raw.items()}
            sort_key = str(item[SORT_KEY])
            # begins_with also finds longer version ids that start with this one: exact keys only.
            if sort_key == summary_sk:
                searched = True
            elif sort_key.startswith(summary_sk + PERSON_MARKER):
                try:
                    matches.append(watchlist_match_of(item))
                except ContractError as exc:
                    raise ConfigProblem(
                        f"results table {table!r} holds a watchlist item this client cannot read ({exc})"
                    ) from exc
    matches.sort(key=lambda match: (-match["similarity"], match["person"]))
    return WatchlistRecord(searched, matches)


@dataclass(frozen=True)
class Shown:
    ref: ImageRef  # pinned to the version drawn
    result: RecognitionResult
    path: Path
    watchlist: WatchlistRecord | None = None  # None: the stack has no watchlist


def show(s3: Any, dynamodb: Any, table: str, ref: ImageRef, out: Path, *, watchlist: bool = False) -> Shown:
    """Draw the stored result of `ref` (its latest version when none is named) into `out`, with the
    version's watchlist matches when the stack has a watchlist."""
    image_format = output_format(out)
    data, pinned = read_version(s3, ref)
    result = stored_result(dynamodb, table, pinned)
    record = watchlist_record(dynamodb, table, pinned) if watchlist else None
    boxes = boxes_of(result, record.matches if record else ())
    write(annotate(decode(data, pinned.describe()), boxes), out, image_format)
    return Shown(pinned, result, out, record)


@dataclass(frozen=True)
class Annotated:
    """What became of one recognized image's picture: the file written, or why not."""

    done: TargetResult
    path: Path | None = None
    error: CelebError | None = None
    watchlist: WatchlistRecord | None = None  # None: the stack has no watchlist


def annotate_all(
    s3: Any,
    results: list[TargetResult],
    directory: Path,
    *,
    dynamodb: Any = None,
    watchlist_table: str | None = None,
) -> Iterator[Annotated]:
    """One picture per recognized image in `directory`, named after its key (`-2`, ... on a clash).

    With `watchlist_table` (a stack with a watchlist) each picture also has the matches the watchlist
    has recorded for that version so far: the watchlist function searches uploads on its own, so a
    version it has not searched yet has none.
    """
    taken: set[str] = set()
    for done in results:
        if done.result is None:
            continue
        try:
            if done.target.upload is not None:
                # The very bytes uploaded and analyzed: no download needed.
                data = done.target.upload.path.read_bytes()
            else:
                data, _ = read_version(s3, done.ref.with_version(done.result["version_id"]))
            image = decode(data, done.target.source)
            record = None
            if watchlist_table is not None:
                version = done.ref.with_version(done.result["version_id"])
                record = watchlist_record(dynamodb, watchlist_table, version)
            image_format = "JPEG" if image.format == "JPEG" else "PNG"
            path = directory / _unique_name(done.ref.key, image_format, taken)
            boxes = boxes_of(done.result, record.matches if record else ())
            write(annotate(image, boxes), path, image_format)
        except CelebError as exc:
            yield Annotated(done, error=exc)
        except OSError as exc:
            yield Annotated(done, error=UsageProblem(f"{done.target.source}: cannot read: {exc.strerror}"))
        else:
            yield Annotated(done, path=path, watchlist=record)


def _unique_name(key: str, image_format: str, taken: set[str]) -> str:
    name = PurePosixPath(key).name
    if name in ("", ".", ".."):
        name = "image"
    suffix = _SUFFIX_OF_FORMAT[image_format]
    if OUTPUT_FORMATS.get(PurePosixPath(name).suffix.lower()) != image_format:
        name += suffix  # an S3 key need not say what it holds
    stem, ext = name[: -len(PurePosixPath(name).suffix)], PurePosixPath(name).suffix
    candidate, counter = name, 1
    while candidate.lower() in taken:
        counter += 1
        candidate = f"{stem}-{counter}{ext}"
    taken.add(candidate.lower())
    return candidate


def check_directory(directory: Path) -> None:
    """Before anything is uploaded: the folder for the pictures exists or can be made."""
    if directory.exists() and not directory.is_dir():
        raise UsageProblem(f"{directory}: is a file, not a folder for the annotated pictures")
