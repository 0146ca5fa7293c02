"""`celeb watchlist`: enroll people in the stack's face collection, list, remove and search them.

A person is one Rekognition user (UserId = the name given) grouping the faces of their enrollment
photos, so several photos improve matching. The collection keeps face vectors, never images.
Enrollment leaves nothing half-written: whatever fails, the faces it indexed are disassociated and
deleted again (DeleteFaces refuses a face still associated to a user), and the user too when this run
created it. A cleanup that fails itself never hides why the enrollment failed: it is noted on that
error (`CleanupIncomplete` says what is left and how to remove it).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from celeb.aws import error_code
from celeb.errors import CelebError, ConfigProblem, ExitCode, UsageProblem
from celeb.stack import StackOutputs
from recognizer.contract import (
    MAX_IMAGE_BYTES_INLINE,
    MIN_IMAGE_SIDE_PX,
    PARTITION_KEY,
    PERSON_INDEX,
    PERSON_INDEX_PARTITION_KEY,
    SORT_KEY,
    ContractError,
    StackOutput,
    WatchlistFace,
    check_user_id,
    describe_formats,
    detect_format,
)
from watchlist.faces import UnreadableImageError, open_upright
from watchlist.search import analyze_image

# Photos travel as bytes (IndexFaces, SearchUsersByImage): Rekognition's 5 MB limit for them.
MAX_PHOTO_BYTES = MAX_IMAGE_BYTES_INLINE
# AssociateFaces takes at most 100 faces per call, and a user holds at most 100.
MAX_PHOTOS = 100
# AUTO: Rekognition refuses faces too blurred, dark or small to make a good reference vector.
QUALITY_FILTER = "AUTO"
_DISASSOCIATE_BATCH = 100
_DELETE_BATCH = 4096
_DYNAMODB_BATCH = 25


class EnrollmentFailed(CelebError):
    """Rekognition refused a photo or the grouping; nothing of this enrollment stays in the collection."""

    exit_code = ExitCode.USAGE  # the photos are the problem: other photos would do


class CleanupIncomplete(CelebError):
    """Rekognition kept faces (or a user) that enrollment's cleanup or `remove` had to delete."""

    exit_code = ExitCode.AWS_ACCESS


@dataclass(frozen=True)
class Photo:
    label: str  # as the user typed it
    data: bytes


@dataclass(frozen=True)
class Person:
    name: str
    status: str
    faces: int


def collection_of(outputs: StackOutputs) -> str:
    collection = outputs.values.get(StackOutput.WATCHLIST_COLLECTION)
    if not collection:
        raise ConfigProblem(
            f"stack {outputs.stack_name!r} has no {StackOutput.WATCHLIST_COLLECTION} output: it was deployed "
            "without the watchlist; deploy it with -c watchlist=true"
        )
    return collection


def person_name(name: str) -> str:
    """`name` when Rekognition takes it as a user id; a usage error saying which characters it takes."""
    try:
        return check_user_id(name)
    except ContractError as error:
        raise UsageProblem(str(error)) from None


def read_photo(path: str) -> Photo:
    """A local JPEG/PNG Rekognition can take as bytes; checked before any AWS call."""
    file = Path(path)
    if not file.is_file():
        raise UsageProblem(f"{path}: no such file")
    data = file.read_bytes()
    if detect_format(data[:16]) is None:
        raise UsageProblem(f"{path}: not a JPEG or PNG image (Rekognition reads {describe_formats()})")
    if len(data) > MAX_PHOTO_BYTES:
        raise UsageProblem(
            f"{path}: {len(data)} bytes; Rekognition takes photos of at most {MAX_PHOTO_BYTES} bytes"
        )
    try:
        image = open_upright(data)
    except UnreadableImageError as error:
        raise UsageProblem(f"{path}: {error}") from None
    if min(image.size) < MIN_IMAGE_SIDE_PX:
        raise UsageProblem(
            f"{path}: {image.width}x{image.height} pixels; Rekognition needs at least "
            f"{MIN_IMAGE_SIDE_PX} pixels on each side"
        )
    return Photo(path, data)


def _token() -> str:
    """A ClientRequestToken (up to 64 of [a-zA-Z0-9-_]) of its own for every call.

    botocore's retries of one call resend the same token, which is what the token is for. A token
    derived from the request would make Rekognition answer a later, different run (add again after a
    remove, add a known person) with the cached answer of an earlier one.
    """
    return uuid.uuid4().hex


def enroll(rekognition: Any, collection: str, name: str, photos: list[Photo]) -> list[str]:
    """Index one face per photo and group them under the user `name`; returns the new face ids.

    On any failure, including Ctrl-C, the faces indexed so far are disassociated and deleted (and
    the user, when this enrollment created it), so no orphan vector stays behind; what the cleanup
    could not undo is noted on the error raised (`error.__notes__`), never raised instead of it.
    """
    if not photos:
        raise UsageProblem("give at least one photo of the person")
    if len(photos) > MAX_PHOTOS:
        raise UsageProblem(f"{len(photos)} photos: at most {MAX_PHOTOS} per person")
    indexed: list[str] = []
    created = associating = False
    try:
        for photo in photos:
            _index_one_face(rekognition, collection, name, photo, indexed)
        created = _create_user(rekognition, collection, name)
        associating = True
        answer = rekognition.associate_faces(
            CollectionId=collection, UserId=name, FaceIds=indexed, ClientRequestToken=_token()
        )
        failed = answer.get("UnsuccessfulFaceAssociations") or []
        if failed:
            labels = {face_id: photo.label for face_id, photo in zip(indexed, photos, strict=True)}
            reasons = "; ".join(
                f"{labels.get(item.get('FaceId'), '?')}: {', '.join(item.get('Reasons') or '?')}"
                for item in failed
            )
            raise EnrollmentFailed(
                f"Rekognition would not add these faces to {name!r} ({reasons}); LOW_MATCH_CONFIDENCE "
                f"means the face does not look like {name!r}'s other photos"
            )
    except BaseException as error:
        problem = _undo(rekognition, collection, name, indexed, created=created, associating=associating)
        if problem is not None:
            # The enrollment's own error stays the one raised; the cleanup's is noted on it.
            error.add_note(f"cleanup after the failed enrollment: {problem.message}")
        raise
    return indexed


def _index_one_face(rekognition: Any, collection: str, name: str, photo: Photo, indexed: list[str]) -> None:
    """Index the photo's face, its id appended to `indexed` (so a failure's cleanup deletes it)."""
    answer = rekognition.index_faces(
        CollectionId=collection,
        Image={"Bytes": photo.data},
        ExternalImageId=name,
        MaxFaces=1,
        QualityFilter=QUALITY_FILTER,
        DetectionAttributes=["DEFAULT"],
    )
    face_ids = [record["Face"]["FaceId"] for record in answer.get("FaceRecords") or []]
    indexed.extend(face_ids)
    unindexed = answer.get("UnindexedFaces") or []
    if len(face_ids) + len(unindexed) > 1:
        # The photo's largest face may have been indexed: it is in `indexed`, for the cleanup.
        raise EnrollmentFailed(
            f"{photo.label}: shows {len(face_ids) + len(unindexed)} faces; an enrollment photo must show "
            "exactly one face (crop it to the person)"
        )
    if not face_ids:
        reasons = sorted({reason for face in unindexed for reason in face.get("Reasons") or []})
        why = f" (Rekognition: {', '.join(reasons)})" if reasons else ""
        raise EnrollmentFailed(
            f"{photo.label}: no face good enough to enroll{why}; use a clear, frontal photo"
        )


def _create_user(rekognition: Any, collection: str, name: str) -> bool:
    """Create the user unless it exists (enrolling more photos of a known person); True if created."""
    try:
        rekognition.create_user(CollectionId=collection, UserId=name, ClientRequestToken=_token())
    except ClientError as error:
        if error_code(error) == "ConflictException":
            return False
        raise
    return True


def _undo(
    rekognition: Any, collection: str, name: str, indexed: list[str], *, created: bool, associating: bool
) -> CleanupIncomplete | None:
    """Take this enrollment's faces out again: disassociate, delete, and the user if this run made it.

    Never raises (bar Ctrl-C): what it could not clean up is returned, so the caller raises the
    enrollment's own error with it noted.
    """
    try:
        if indexed and associating:
            # Only this run's faces: a known person keeps the faces enrolled before.
            ours = set(indexed)
            grouped = [face["FaceId"] for face in _faces(rekognition, collection, UserId=name)
                       if face["FaceId"] in ours]  # fmt: skip
            _disassociate_faces(rekognition, collection, name, grouped)
        if indexed:
            _delete_faces(rekognition, collection, name, indexed)
        if created:
            rekognition.delete_user(CollectionId=collection, UserId=name, ClientRequestToken=_token())
    except Exception as error:  # an AWS error, or any other: the enrollment's error matters more
        if created:
            advice = f"`celeb watchlist remove {name}` deletes it"
        else:  # a known person: remove would take their earlier faces too
            advice = (
                f"`celeb watchlist remove {name}` deletes it, but with everything {name!r} had enrolled "
                "before; enroll them again afterwards"
            )
        if isinstance(error, CleanupIncomplete):
            what = error.message
        else:
            left = f"{len(indexed)} face(s) indexed for {name!r}" + (" and its new user" if created else "")
            cause = str(error) if isinstance(error, ClientError) else f"{type(error).__name__}: {error}"
            what = f"could not delete the {left} ({cause})"
        return CleanupIncomplete(f"{what}; `celeb watchlist list` shows what is left, {advice}")
    return None


def _disassociate_faces(rekognition: Any, collection: str, name: str, face_ids: list[str]) -> None:
    for start in range(0, len(face_ids), _DISASSOCIATE_BATCH):
        rekognition.disassociate_faces(
            CollectionId=collection,
            UserId=name,
            FaceIds=face_ids[start : start + _DISASSOCIATE_BATCH],
            ClientRequestToken=_token(),
        )


def _delete_faces(rekognition: Any, collection: str, name: str, face_ids: list[str]) -> None:
    """Delete the faces; CleanupIncomplete naming each face Rekognition kept and why.

    DeleteFaces answers success and lists what it refused (a face still associated to a user:
    ASSOCIATED_TO_AN_EXISTING_USER). A face it no longer finds (FACE_NOT_FOUND) is gone already.
    """
    kept = []
    for start in range(0, len(face_ids), _DELETE_BATCH):
        answer = rekognition.delete_faces(
            CollectionId=collection, FaceIds=face_ids[start : start + _DELETE_BATCH]
        )
        kept.extend(
            item
            for item in answer.get("UnsuccessfulFaceDeletions") or []
            if set(item.get("Reasons") or []) != {"FACE_NOT_FOUND"}
        )
    if kept:
        details = "; ".join(
            f"{item.get('FaceId', '?')}: {', '.join(item.get('Reasons') or ['no reason given'])}"
            + (f" (user {item['UserId']!r})" if item.get("UserId") else "")
            for item in kept
        )
        raise CleanupIncomplete(
            f"Rekognition kept {len(kept)} face(s) of {name!r} it was asked to delete ({details})"
        )


def _users(rekognition: Any, collection: str) -> Iterator[dict[str, Any]]:
    for page in rekognition.get_paginator("list_users").paginate(CollectionId=collection):
        yield from page.get("Users") or []


def _faces(rekognition: Any, collection: str, **filters: Any) -> Iterator[dict[str, Any]]:
    for page in rekognition.get_paginator("list_faces").paginate(CollectionId=collection, **filters):
        yield from page.get("Faces") or []


def list_people(rekognition: Any, collection: str) -> tuple[list[Person], int]:
    """Every person with their face count, and the count of faces that belong to nobody."""
    counts = Counter(face.get("UserId") for face in _faces(rekognition, collection))
    people = [
        Person(user["UserId"], user.get("UserStatus", "?"), counts.pop(user["UserId"], 0))
        for user in _users(rekognition, collection)
    ]
    return sorted(people, key=lambda person: person.name), sum(counts.values())


@dataclass(frozen=True)
class Removal:
    faces: int
    match_records: int


def remove(
    rekognition: Any, collection: str, name: str, *, dynamodb: Any = None, table: str | None = None
) -> Removal:
    """Delete the person's user vector and every face enrolled for them; and their match records."""
    exists = any(user["UserId"] == name for user in _users(rekognition, collection))
    # Faces of the user, and any left by an enrollment whose cleanup was itself interrupted.
    faces = [face for face in _faces(rekognition, collection)
             if face.get("UserId") == name
             or (not face.get("UserId") and face.get("ExternalImageId") == name)]  # fmt: skip
    if not exists and not faces:
        raise UsageProblem(f"no person {name!r} in the watchlist (see `celeb watchlist list`)")
    # DeleteFaces refuses a face still associated to a user: disassociated first.
    _disassociate_faces(
        rekognition, collection, name, [face["FaceId"] for face in faces if face.get("UserId") == name]
    )
    try:
        _delete_faces(rekognition, collection, name, [face["FaceId"] for face in faces])
    except CleanupIncomplete as error:
        raise CleanupIncomplete(
            f"{error.message}; nothing else was deleted: run `celeb watchlist remove {name}` again"
        ) from None
    if exists:
        rekognition.delete_user(CollectionId=collection, UserId=name, ClientRequestToken=_token())
    records = _delete_match_records(dynamodb, table, name) if dynamodb is not None and table else 0
    return Removal(len(faces), records)


def _delete_match_records(dynamodb: Any, table: str, name: str) -> int:
    pages = dynamodb.get_paginator("query").paginate(
        TableName=table,
        IndexName=PERSON_INDEX,
        KeyConditionExpression="#person = :person",
        ExpressionAttributeNames={
            "#person": PERSON_INDEX_PARTITION_KEY,
            "#pk": PARTITION_KEY,
            "#sk": SORT_KEY,
        },
        ExpressionAttributeValues={":person": {"S": name}},
        ProjectionExpression="#pk, #sk",
    )
    keys = [item for page in pages for item in page.get("Items") or []]
    for start in range(0, len(keys), _DYNAMODB_BATCH):
        requests = [{"DeleteRequest": {"Key": key}} for key in keys[start : start + _DYNAMODB_BATCH]]
        while requests:
            unprocessed = (
                dynamodb.batch_write_item(RequestItems={table: requests}).get("UnprocessedItems") or {}
            )
            requests = unprocessed.get(table) or []
    return len(keys)


def search(rekognition: Any, collection: str, photo: Photo, threshold: float) -> list[WatchlistFace]:
    """Every face of the photo searched like the watchlist function searches uploads."""
    return analyze_image(rekognition, photo.data, collection_id=collection, threshold=threshold)
