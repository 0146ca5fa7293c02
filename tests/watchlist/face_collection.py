"""An in-memory Amazon Rekognition face collection (moto has none), with botocore's real shapes.

Faces are drawn as solid squares of PALETTE colours on a grey background (`photo`): DetectFaces finds
each colour's square, a face's "vector" is its colour, and SearchUsersByImage matches the largest
face of the image it gets with the users whose faces have that colour. So the tests' crops really
have to contain the face: a crop cut in the wrong place finds nobody.

One answer function, `answer(operation, body)`, takes the JSON request body (Bytes base64-encoded)
and returns (HTTP status, JSON payload): the local HTTP stub serves it
(`stub.operations["RekognitionService.IndexFaces"] = ...`), and `attach(client)` answers a boto3
client's calls in process, after botocore validated the request, checking every answer against
the operation's output shape as botocore.stub.Stubber does.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.validate import ParamValidator
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageOps, UnidentifiedImageError

BACKGROUND = (128, 128, 128)
PALETTE = {
    "red": (230, 20, 20),
    "green": (20, 200, 20),
    "blue": (20, 20, 230),
    "yellow": (240, 230, 20),
    "magenta": (220, 20, 220),
    "cyan": (20, 220, 220),
}
# Per channel: JPEG keeps a solid square's colour well within this.
_TOLERANCE = 48
# Smallest square (pixels) this fake "detects", and the smallest it indexes or searches (Rekognition: ~40).
DETECTABLE_PX = 8
SEARCHABLE_PX = 40
MODEL_VERSION = "7.0"


def photo(
    width: int, height: int, faces: list[tuple[str, tuple[int, int, int, int]]], *, fmt: str = "JPEG"
) -> bytes:
    """An image with each face a square of its colour at (left, top, right, bottom) pixels."""
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    for colour, (left, top, right, bottom) in faces:
        draw.rectangle((left, top, right - 1, bottom - 1), fill=PALETTE[colour])
    out = io.BytesIO()
    image.save(out, format=fmt, quality=95) if fmt == "JPEG" else image.save(out, format=fmt)
    return out.getvalue()


class FakeError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Face:
    face_id: str
    colour: str
    box: dict[str, float]
    image_id: str
    external_image_id: str | None
    user_id: str | None = None


@dataclass
class FaceCollection:
    collection_id: str
    # Similarity reported per colour (default 99.5): tests set the threshold's neighbours here.
    similarity: dict[str, float] = field(default_factory=dict)
    # Operation -> error code raised once on its next call (tests of failures midway).
    fail_next: dict[str, str] = field(default_factory=dict)
    s3_reader: Callable[[dict[str, Any]], bytes] | None = None
    faces: dict[str, Face] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    _tokens: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # ---------------------------------------------------------------- plumbing

    def answer(self, operation: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.calls[operation] += 1
            try:
                if operation in self.fail_next:
                    code = self.fail_next.pop(operation)
                    raise FakeError(code, f"{operation} failed (injected)")
                if body.get("CollectionId", self.collection_id) != self.collection_id:
                    raise FakeError(
                        "ResourceNotFoundException",
                        f"The collection id: {body['CollectionId']} does not exist",
                    )
                handler = getattr(self, "_" + _snake(operation), None)
                if handler is None:
                    raise FakeError("UnknownOperationException", operation)
                return 200, handler(body)
            except FakeError as error:
                return 400, {"__type": error.code, "Message": error.message}

    def attach(self, client: Any) -> None:
        """Answer every Rekognition call of `client` here (after botocore validated the request)."""
        validator = ParamValidator()

        def before_call(model: Any, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
            status, payload = self.answer(model.name, json.loads(params["body"] or b"{}"))
            if status >= 400:
                parsed = {"Error": {"Code": payload["__type"], "Message": payload["Message"]},
                          "ResponseMetadata": {"HTTPStatusCode": status}}  # fmt: skip
            else:
                report = validator.validate(payload, model.output_shape)
                assert not report.has_errors(), (
                    f"{model.name} answer off its shape: {report.generate_report()}"
                )
                parsed = {**payload, "ResponseMetadata": {"HTTPStatusCode": status}}
            return AWSResponse("https://rekognition.fake", status, {}, None), parsed

        client.meta.events.register("before-call.rekognition", before_call)

    def serve(self, stub: Any) -> list[str]:
        """Answer the collection's operations on the local HTTP Rekognition stub; returns their targets."""
        import botocore.session

        model = botocore.session.get_session().get_service_model("rekognition")
        validator = ParamValidator()
        targets = []
        for operation in _OPERATIONS:
            output = model.operation_model(operation).output_shape

            def answer(body: dict[str, Any], operation: str = operation, output: Any = output) -> Any:
                status, payload = self.answer(operation, body)
                if status < 400:
                    report = validator.validate(payload, output)
                    assert not report.has_errors(), f"{operation}: {report.generate_report()}"
                return status, payload

            target = f"RekognitionService.{operation}"
            stub.operations[target] = answer
            targets.append(target)
        return targets

    # ---------------------------------------------------------------- images

    def _image(self, body: dict[str, Any]) -> Image.Image:
        image = body.get("Image") or {}
        if "Bytes" in image:
            data = base64.b64decode(image["Bytes"])
        elif "S3Object" in image and self.s3_reader is not None:
            data = self.s3_reader(image["S3Object"])
        else:
            raise FakeError("InvalidParameterException", "Image.Bytes or Image.S3Object is required")
        try:
            decoded = Image.open(io.BytesIO(data))
            decoded.load()
        except (UnidentifiedImageError, OSError):
            raise FakeError("InvalidImageFormatException", "Request has invalid image format") from None
        # Rekognition reports boxes of the image as its EXIF orientation shows it.
        decoded = ImageOps.exif_transpose(decoded)
        if min(decoded.size) < 80:
            raise FakeError("InvalidParameterException", "Request has invalid parameters")
        return decoded.convert("RGB")

    @staticmethod
    def detect(image: Image.Image) -> list[tuple[str, dict[str, float], tuple[int, int, int, int]]]:
        """(colour, ratio box, pixel box) of each face square in the image, in PALETTE order."""
        found = []
        channels = None
        for colour, rgb in PALETTE.items():
            diff = ImageChops.difference(image, Image.new("RGB", image.size, rgb))
            channels = diff.split()
            mask = ImageChops.lighter(ImageChops.lighter(channels[0], channels[1]), channels[2])
            mask = mask.point(lambda value: 255 if value < _TOLERANCE else 0).filter(ImageFilter.MinFilter(3))
            bbox = mask.getbbox()
            if bbox is None:
                continue
            # MinFilter took one pixel off each side.
            left, top, right, bottom = max(0, bbox[0] - 1), max(0, bbox[1] - 1), bbox[2] + 1, bbox[3] + 1
            right, bottom = min(right, image.width), min(bottom, image.height)
            if min(right - left, bottom - top) < DETECTABLE_PX:
                continue
            box = {"Width": (right - left) / image.width, "Height": (bottom - top) / image.height,
                   "Left": left / image.width, "Top": top / image.height}  # fmt: skip
            found.append((colour, box, (left, top, right, bottom)))
        return found

    @staticmethod
    def _detail(box: dict[str, float]) -> dict[str, Any]:
        return {"BoundingBox": box, "Confidence": 99.9}

    # ---------------------------------------------------------------- operations

    def _detect_faces(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"FaceDetails": [self._detail(box) for _, box, _ in self.detect(self._image(body))]}

    def _index_faces(self, body: dict[str, Any]) -> dict[str, Any]:
        found = self.detect(self._image(body))
        found.sort(key=lambda face: -(face[2][2] - face[2][0]) * (face[2][3] - face[2][1]))
        image_id = str(uuid.uuid4())
        records, unindexed = [], []
        for colour, box, (left, top, right, bottom) in found:
            if (
                body.get("QualityFilter", "AUTO") != "NONE"
                and min(right - left, bottom - top) < SEARCHABLE_PX
            ):
                unindexed.append({"Reasons": ["SMALL_BOUNDING_BOX"], "FaceDetail": self._detail(box)})
            elif len(records) >= body.get("MaxFaces", 100):
                unindexed.append({"Reasons": ["EXCEEDS_MAX_FACES"], "FaceDetail": self._detail(box)})
            else:
                face = Face(str(uuid.uuid4()), colour, box, image_id, body.get("ExternalImageId"))
                self.faces[face.face_id] = face
                records.append({"Face": self._face(face), "FaceDetail": self._detail(box)})
        return {"FaceRecords": records, "UnindexedFaces": unindexed, "FaceModelVersion": MODEL_VERSION}

    def _face(self, face: Face) -> dict[str, Any]:
        shaped = {"FaceId": face.face_id, "BoundingBox": face.box, "ImageId": face.image_id,
                  "Confidence": 99.9, "IndexFacesModelVersion": MODEL_VERSION}  # fmt: skip
        if face.external_image_id:
            shaped["ExternalImageId"] = face.external_image_id
        if face.user_id:
            shaped["UserId"] = face.user_id
        return shaped

    def _idempotent(self, body: dict[str, Any], operation: str) -> bool:
        """Whether this is a repeat of a request with the same ClientRequestToken."""
        token = body.get("ClientRequestToken")
        if token is None:
            return False
        request = json.dumps({**body, "op": operation}, sort_keys=True)
        if token in self._tokens:
            if self._tokens[token] != request:
                raise FakeError("IdempotentParameterMismatchException", "token reused with other parameters")
            return True
        self._tokens[token] = request
        return False

    def _create_user(self, body: dict[str, Any]) -> dict[str, Any]:
        if self._idempotent(body, "CreateUser"):
            return {}
        if body["UserId"] in self.users:
            raise FakeError("ConflictException", f"User {body['UserId']} already exists")
        self.users[body["UserId"]] = "CREATED"
        return {}

    def _require_user(self, user_id: str) -> None:
        if user_id not in self.users:
            raise FakeError("ResourceNotFoundException", f"User {user_id} does not exist")

    def _associate_faces(self, body: dict[str, Any]) -> dict[str, Any]:
        user_id = body["UserId"]
        self._require_user(user_id)
        colours = {face.colour for face in self.faces.values() if face.user_id == user_id}
        associated, failed = [], []
        for face_id in body["FaceIds"]:
            face = self.faces.get(face_id)
            if face is None:
                failed.append({"FaceId": face_id, "UserId": user_id, "Reasons": ["FACE_NOT_FOUND"]})
            elif face.user_id not in (None, user_id):
                failed.append(
                    {"FaceId": face_id, "UserId": user_id, "Reasons": ["ASSOCIATED_TO_A_DIFFERENT_USER"]}
                )
            elif colours and face.colour not in colours:
                failed.append({"FaceId": face_id, "UserId": user_id, "Confidence": 12.5,
                               "Reasons": ["LOW_MATCH_CONFIDENCE"]})  # fmt: skip
            else:
                face.user_id = user_id
                associated.append({"FaceId": face_id})
        if associated:
            self.users[user_id] = "ACTIVE"
        return {"AssociatedFaces": associated, "UnsuccessfulFaceAssociations": failed,
                "UserStatus": self.users[user_id]}  # fmt: skip

    def _disassociate_faces(self, body: dict[str, Any]) -> dict[str, Any]:
        user_id = body["UserId"]
        self._require_user(user_id)
        done, failed = [], []
        for face_id in body["FaceIds"]:
            face = self.faces.get(face_id)
            if face is None or face.user_id != user_id:
                reason = "FACE_NOT_FOUND" if face is None else "ASSOCIATED_TO_A_DIFFERENT_USER"
                failed.append({"FaceId": face_id, "UserId": user_id, "Reasons": [reason]})
            else:
                face.user_id = None
                done.append({"FaceId": face_id})
        return {"DisassociatedFaces": done, "UnsuccessfulFaceDisassociations": failed,
                "UserStatus": self.users[user_id]}  # fmt: skip

    def _delete_faces(self, body: dict[str, Any]) -> dict[str, Any]:
        # Like Rekognition: a face still associated to a user is refused (DisassociateFaces first).
        deleted, refused = [], []
        for face_id in body["FaceIds"]:
            face = self.faces.get(face_id)
            if face is None:
                refused.append({"FaceId": face_id, "Reasons": ["FACE_NOT_FOUND"]})
            elif face.user_id is not None:
                refused.append({"FaceId": face_id, "UserId": face.user_id,
                                "Reasons": ["ASSOCIATED_TO_AN_EXISTING_USER"]})  # fmt: skip
            else:
                del self.faces[face_id]
                deleted.append(face_id)
        answer: dict[str, Any] = {"UnsuccessfulFaceDeletions": refused}
        if deleted:  # the model's DeletedFaces list has at least one element
            answer["DeletedFaces"] = deleted
        return answer

    def _delete_user(self, body: dict[str, Any]) -> dict[str, Any]:
        if self._idempotent(body, "DeleteUser"):
            return {}
        self._require_user(body["UserId"])
        # Rekognition disassociates the user's faces first; it does not delete them.
        for face in self.faces.values():
            if face.user_id == body["UserId"]:
                face.user_id = None
        del self.users[body["UserId"]]
        return {}

    def _page(self, items: list[Any], body: dict[str, Any], limit: int) -> tuple[list[Any], str | None]:
        start = int(body.get("NextToken") or 0)
        size = body.get("MaxResults") or limit
        end = start + size
        return items[start:end], (str(end) if end < len(items) else None)

    def _list_users(self, body: dict[str, Any]) -> dict[str, Any]:
        users = [{"UserId": user_id, "UserStatus": status} for user_id, status in sorted(self.users.items())]
        page, token = self._page(users, body, 500)
        return {"Users": page, **({"NextToken": token} if token else {})}

    def _list_faces(self, body: dict[str, Any]) -> dict[str, Any]:
        faces = [self._face(face) for face in self.faces.values()
                 if body.get("UserId") in (None, face.user_id)
                 and (not body.get("FaceIds") or face.face_id in body["FaceIds"])]  # fmt: skip
        page, token = self._page(faces, body, 1000)
        return {"Faces": page, "FaceModelVersion": MODEL_VERSION, **({"NextToken": token} if token else {})}

    def _search_users_by_image(self, body: dict[str, Any]) -> dict[str, Any]:
        found = self.detect(self._image(body))
        if not found:
            raise FakeError(
                "InvalidParameterException", "There are no faces in the image. Should be at least 1."
            )
        found.sort(key=lambda face: -(face[2][2] - face[2][0]) * (face[2][3] - face[2][1]))
        colour, box, _ = found[0]
        threshold = body.get("UserMatchThreshold", 80.0)
        similarity = self.similarity.get(colour, 99.5)
        users = sorted(
            {face.user_id for face in self.faces.values() if face.user_id and face.colour == colour}
        )
        matches = [{"Similarity": similarity, "User": {"UserId": user_id, "UserStatus": self.users[user_id]}}
                   for user_id in users if similarity >= threshold][: body.get("MaxUsers", 500)]  # fmt: skip
        return {
            "UserMatches": matches,
            "FaceModelVersion": MODEL_VERSION,
            "SearchedFace": {"FaceDetail": self._detail(box)},
            "UnsearchedFaces": [
                {"FaceDetails": self._detail(other), "Reasons": ["FACE_NOT_LARGEST"]}
                for _, other, _ in found[1:]
            ],
        }


_OPERATIONS = ("DetectFaces", "IndexFaces", "CreateUser", "AssociateFaces", "DisassociateFaces",
               "DeleteFaces", "DeleteUser", "ListUsers", "ListFaces", "SearchUsersByImage")  # fmt: skip


def _snake(name: str) -> str:
    return "".join(f"_{char.lower()}" if char.isupper() else char for char in name).lstrip("_")
