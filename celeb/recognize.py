"""`recognize`: upload (when local) and analyze several images concurrently."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from celeb.aws import Aws, explain
from celeb.errors import CelebError
from celeb.invoke import invoke
from celeb.targets import Target
from celeb.upload import upload
from recognizer.contract import ImageRef, RecognitionResult


@dataclass(frozen=True)
class TargetResult:
    """What became of one argument of `recognize`: the function's result, or the error that stopped it."""

    target: Target
    ref: ImageRef
    result: RecognitionResult | None = None
    error: CelebError | None = None


def recognize_all(
    aws: Aws,
    targets: list[Target],
    *,
    bucket: str,
    function_name: str,
    max_concurrency: int,
    on_done: Callable[[TargetResult], None] = lambda done: None,
) -> list[TargetResult]:
    """One entry per target, in the targets' order; one image failing does not stop the others."""
    # Clients are created here, in the calling thread: the session behind them is not thread-safe.
    s3 = aws.client("s3")
    lambda_client = aws.client("lambda")

    def run(target: Target) -> TargetResult:
        ref = target.ref(bucket)
        try:
            # One Rekognition call per image: the upload is marked so that its own event skips it,
            # and this invocation is pinned to the version just uploaded.
            if target.upload is not None:
                ref = upload(s3, target.upload, ref)
            done = TargetResult(target, ref, result=invoke(lambda_client, function_name, ref))
        except CelebError as exc:
            done = TargetResult(target, ref, error=exc)
        except (BotoCoreError, ClientError) as exc:
            done = TargetResult(target, ref, error=explain(exc))
        on_done(done)
        return done

    pool = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="recognize")
    try:
        return list(pool.map(run, targets))
    except KeyboardInterrupt:
        # Ctrl-C: drop the images not started yet; the ones in flight finish before we exit.
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        pool.shutdown(wait=True)
