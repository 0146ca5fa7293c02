"""Runs the bundled function outside Lambda, the way Lambda would call it.

Started with `python -I` so nothing from this repository is importable except the asset folder
it is given: an import the package is missing fails here exactly as it would in Lambda.

    python -I handler_runner.py ASSET_DIR invoke      # one JSON event per stdin line -> one JSON line out
    python -I handler_runner.py ASSET_DIR drain QUEUE_URL --batch-size 10 --idle-seconds 3 [--until PATH]

`drain` plays the SQS event source mapping: receive a batch, call the handler, delete the
messages it did not report in batchItemFailures (those come back after the visibility timeout).
It stops when the queue holds nothing, visible or in flight, or after --idle-seconds without a
message, whichever comes first; with --until, an empty queue stops it only once PATH exists (the
uploads that feed the queue are done).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any, TextIO


class Context:
    aws_request_id = "integration-test"
    function_name = "celebrity-recognition"


def _fast_backoff() -> None:
    # Shrinks botocore's retry sleeps (not their number) so the suite stays fast.
    from botocore.retries import standard

    original = standard.ExponentialBackoff.delay_amount
    standard.ExponentialBackoff.delay_amount = lambda self, context: original(self, context) / 100


def invoke(handler: Any, out: TextIO) -> None:
    for line in sys.stdin:
        try:
            answer = {"result": handler(json.loads(line), Context())}
        except Exception as error:  # reported the way Lambda reports a function error
            answer = {"errorType": type(error).__name__, "errorMessage": str(error)}
        print(json.dumps(answer), file=out, flush=True)


def drain(
    handler: Any, queue_url: str, batch_size: int, idle_seconds: float, until: Path | None = None
) -> dict[str, Any]:
    import boto3

    sqs = boto3.client("sqs")
    stats: dict[str, Any] = {"batches": 0, "messages": 0, "returned": 0, "first": None, "last": None}
    idle_since = time.monotonic()
    while time.monotonic() - idle_since < idle_seconds:
        received = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=min(batch_size, 10), WaitTimeSeconds=0,
            AttributeNames=["All"],
        ).get("Messages", [])  # fmt: skip
        if not received:
            # Nothing visible and nothing in flight anywhere, and nothing more on its way.
            if (until is None or until.exists()) and _queue_is_empty(sqs, queue_url):
                break
            time.sleep(0.05)
            continue
        stats["first"] = stats["first"] or time.time()
        event = {"Records": [_record(m, queue_url) for m in received]}
        response = handler(event, Context())
        failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
        done = [m for m in received if m["MessageId"] not in failed]
        if done:
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        stats["batches"] += 1
        stats["messages"] += len(received)
        stats["returned"] += len(failed)
        stats["last"] = time.time()
        idle_since = time.monotonic()
    return stats


def _queue_is_empty(sqs: Any, queue_url: str) -> bool:
    counts = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return all(value == "0" for value in counts.values())


def _record(message: dict[str, Any], queue_url: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {},
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:" + queue_url.rsplit("/", 1)[-1],
        "awsRegion": "us-east-1",
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("asset_dir", type=Path)
    parser.add_argument("mode", choices=["invoke", "drain"])
    parser.add_argument("queue_url", nargs="?")
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--idle-seconds", type=float, default=3.0)
    parser.add_argument("--until", type=Path)
    parser.add_argument("--fast-backoff", action="store_true")
    args = parser.parse_args()

    # The function's own output (its log lines) goes to stderr, as to CloudWatch; answers to stdout.
    out, sys.stdout = sys.stdout, sys.stderr
    sys.path.insert(0, str(args.asset_dir.resolve()))
    if args.fast_backoff:
        _fast_backoff()
    from handler import lambda_handler

    if args.mode == "invoke":
        invoke(lambda_handler, out)
        return
    try:
        stats = drain(lambda_handler, args.queue_url, args.batch_size, args.idle_seconds, args.until)
    except Exception:
        traceback.print_exc()
        sys.exit(1)
    print(json.dumps(stats), file=out, flush=True)


if __name__ == "__main__":
    main()
