"""Rekognition's stored-video celebrity API on the local HTTP stub (moto has none).

`VideoJobs(stub, sns)` registers StartCelebrityRecognition and GetCelebrityRecognition on a
RekognitionStub. Like the service:
- one job per ClientRequestToken: a repeated token answers the same JobId;
- `limit_exceeded` answers LimitExceededException to that many starts first;
- a job finishes when `finish(job_id)` is called: its completion notice is published to the
  request's NotificationChannel topic (on moto's SNS, so SNS -> SQS delivery is moto's), unless
  the job is `lost` (the notice never comes, the job is SUCCEEDED all the same);
- its results are paged, `page_size` a page (at most MaxResults), sorted by timestamp, with
  NextToken; keys containing `broken` end FAILED with a StatusMessage.
Answers have botocore's shapes; `starts` keeps every start request, `gets` every get request.
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

from tests.integration.rekognition_stub import RekognitionStub

START = "RekognitionService.StartCelebrityRecognition"
GET = "RekognitionService.GetCelebrityRecognition"
FAILED_MESSAGE = "Unsupported codec/format."


def detections(count: int, name: str = "Ada Lovelace", celebrity_id: str = "1a2B3c") -> list[dict[str, Any]]:
    """`count` CelebrityRecognition entries, one every 200 ms."""
    return [
        {
            "Timestamp": index * 200,
            "Celebrity": {
                "Urls": ["www.wikidata.org/wiki/Q7259"],
                "Name": name,
                "Id": celebrity_id,
                "Confidence": 90.0 + (index % 10),
                "BoundingBox": {"Width": 0.2, "Height": 0.3, "Left": 0.1, "Top": 0.1},
                "Face": {
                    "BoundingBox": {"Width": 0.2, "Height": 0.3, "Left": 0.1, "Top": 0.1},
                    "Confidence": 99.0,
                },
                "KnownGender": {"Type": "Female"},
            },
        }
        for index in range(count)
    ]


class VideoJobs:
    def __init__(
        self,
        stub: RekognitionStub,
        sns: Any,
        *,
        results: list[dict[str, Any]] | None = None,
        page_size: int = 1000,
    ) -> None:
        self.sns = sns
        self.results = results if results is not None else detections(5)
        self.page_size = page_size
        self.limit_exceeded = 0
        self.lost: set[str] = set()
        self.jobs: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, str] = {}
        self.starts: list[dict[str, Any]] = []
        self.gets: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        stub.operations[START] = self.start
        stub.operations[GET] = self.get

    def start(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        s3_object = (body.get("Video") or {}).get("S3Object") or {}
        channel = body.get("NotificationChannel") or {}
        if not s3_object.get("Name") or not channel.get("SNSTopicArn") or not channel.get("RoleArn"):
            return 400, {
                "__type": "InvalidParameterException",
                "Message": "Video and NotificationChannel required",
            }
        with self._lock:
            self.starts.append(body)
            if self.limit_exceeded:
                self.limit_exceeded -= 1
                return 400, {"__type": "LimitExceededException", "Message": "Too many concurrent jobs"}
            token = body.get("ClientRequestToken")
            if token and token in self.tokens:
                return 200, {"JobId": self.tokens[token]}
            job_id = uuid.uuid4().hex  # 32 characters of [a-f0-9]: the JobId pattern
            self.jobs[job_id] = {
                "video": dict(s3_object),
                "topic": channel["SNSTopicArn"],
                "status": "IN_PROGRESS",
            }
            if token:
                self.tokens[token] = job_id
        return 200, {"JobId": job_id}

    def finish(self, job_id: str) -> None:
        """The job ends; Rekognition publishes its notice (unless the job is lost)."""
        job = self.jobs[job_id]
        job["status"] = "FAILED" if "broken" in job["video"]["Name"] else "SUCCEEDED"
        if job_id in self.lost:
            return
        notice = {
            "JobId": job_id,
            "Status": job["status"],
            "API": "StartCelebrityRecognition",
            "Timestamp": 1764156565000,
            "Video": {"S3ObjectName": job["video"]["Name"], "S3Bucket": job["video"]["Bucket"]},
        }
        self.sns.publish(TopicArn=job["topic"], Message=json.dumps(notice))

    def get(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.gets.append(body)
            job = self.jobs.get(body.get("JobId", ""))
        if job is None:
            return 400, {"__type": "ResourceNotFoundException", "Message": "The job id was not found"}
        answer: dict[str, Any] = {
            "JobStatus": job["status"],
            "JobId": body["JobId"],
            "Video": {"S3Object": job["video"]},
        }
        if job["status"] == "FAILED":
            return 200, answer | {"StatusMessage": FAILED_MESSAGE}
        if job["status"] != "SUCCEEDED":
            return 200, answer
        size = min(self.page_size, int(body.get("MaxResults") or 1000))
        start = int(body.get("NextToken") or 0)
        ordered = sorted(self.results, key=lambda entry: entry["Timestamp"])
        answer["Celebrities"] = ordered[start : start + size]
        answer["VideoMetadata"] = {
            "Codec": "h264",
            "DurationMillis": 95000,
            "Format": "QuickTime / MOV",
            "FrameRate": 25.0,
            "FrameHeight": 720,
            "FrameWidth": 1280,
        }
        if start + size < len(ordered):
            answer["NextToken"] = str(start + size)
        return 200, answer
