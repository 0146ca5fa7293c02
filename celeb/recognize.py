"""`recognize`: upload (when local) and analyze several images concurrently."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from celeb.aws import Aws, explain
from celeb.errors import CelebError
from celeb.images import ImageRef, Target
from celeb.invoke import Recognition, invoke
from celeb.upload import upload


@dataclass(frozen=True)
class Outcome:
    """What became of one argument: a recognition, or the error that stopped it."""

    target: Target
    ref: ImageRef
    recognition: Recognition | None = None
    error: CelebError | None = None


def recognize_all(
    aws: Aws,
    targets: list[Target],
    *,
    bucket: str,
    function_name: str,
    max_concurrency: int,
    on_done: Callable[[Outcome], None] = lambda outcome: None,
) -> list[Outcome]:
    """One outcome per target, in the targets' order; one image failing does not stop the others."""
    # Clients are created here, in the calling thread: the session behind them is not thread-safe.
    s3 = aws.client("s3")
    lambda_client = aws.client("lambda")

    def run(target: Target) -> Outcome:
        ref = target.ref(bucket)
        try:
            version_id = upload(s3, target.upload, ref) if target.upload is not None else None
            recognition = invoke(lambda_client, function_name, ref, version_id)
            outcome = Outcome(target, ref, recognition=recognition)
        except CelebError as exc:
            outcome = Outcome(target, ref, error=exc)
        except (BotoCoreError, ClientError) as exc:
            outcome = Outcome(target, ref, error=explain(exc))
        on_done(outcome)
        return outcome

    pool = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="recognize")
    try:
        return list(pool.map(run, targets))
    except KeyboardInterrupt:
        # Ctrl-C: drop the images not started yet; the ones in flight finish before we exit.
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        pool.shutdown(wait=True)
