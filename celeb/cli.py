"""The `celeb` command line (typer): recognize, results, show, backfill, info, check.

Exit statuses are documented in celeb.errors.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from botocore.exceptions import BotoCoreError, ClientError

from celeb import __version__, cloud_backfill, pictures, render, watchlist_cli
from celeb.aws import Aws, explain
from celeb.backfill import BackfillOptions, run_backfill
from celeb.check import check_upload_events
from celeb.errors import CelebError, ConfigProblem, ExitCode, UsageProblem, worst_exit_code
from celeb.recognize import recognize_all
from celeb.results import celebrity_appearances, image_summaries, person_matches, scan_summaries
from celeb.stack import DEFAULT_STACK, StackOutputs, read_outputs
from celeb.targets import parse_s3_uri, resolve_targets
from celeb.video_command import recognize_videos
from recognizer.contract import VIDEO_WAIT_MARGIN_MINUTES, ImageRef, StackOutput

app = typer.Typer(
    name="celeb",
    no_args_is_help=True,
    add_completion=False,
    # Locals of AWS calls can hold credentials: never print them in a traceback.
    pretty_exceptions_show_locals=False,
)

Command = TypeVar("Command", bound=Callable[..., Any])


@dataclass(frozen=True)
class GlobalOptions:
    """The options before the command: which stack, where, as whom."""

    stack: str
    region: str | None
    profile: str | None


def _fail(message: str, code: ExitCode) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(int(code))


def reports_errors(command: Command) -> Command:
    """Every expected failure ends as one `error:` line and its exit status, not a traceback."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except CelebError as exc:
            _fail(exc.message, exc.exit_code)
        except (BotoCoreError, ClientError) as exc:
            error = explain(exc)
            _fail(error.message, error.exit_code)
        except KeyboardInterrupt:
            _fail("interrupted", ExitCode.INTERRUPTED)

    return run  # type: ignore[return-value]


def _connect(ctx: typer.Context, *, max_concurrency: int = 1) -> tuple[Aws, StackOutputs]:
    options: GlobalOptions = ctx.obj
    aws = Aws(options.profile, options.region, max_concurrency=max_concurrency)
    return aws, read_outputs(aws.client("cloudformation"), options.stack)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"celeb {__version__}")
        raise typer.Exit()


@app.callback()
def global_options(
    ctx: typer.Context,
    stack: Annotated[
        str, typer.Option(envvar="CELEB_STACK", help="The deployed stack whose outputs name the resources.")
    ] = DEFAULT_STACK,
    region: Annotated[
        str | None, typer.Option(help="AWS region of the stack (default: AWS_REGION or the profile's).")
    ] = None,
    profile: Annotated[str | None, typer.Option(help="AWS profile to use (default: AWS_PROFILE).")] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Recognize celebrities in images with the deployed CelebrityRecognition stack.

    Exit status: 0 ok, 1 recognition failed (or a video's wait ran out), 2 usage (bad option, missing
    file, not an image), 3 configuration (stack or output missing), 4 AWS access, 5 throttled,
    130 interrupted.
    """
    ctx.obj = GlobalOptions(stack=stack, region=region, profile=profile)


Concurrency = Annotated[
    int, typer.Option("--max-concurrency", min=1, help="Images analyzed at the same time.")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON document instead of tables.")]


@app.command()
@reports_errors
def recognize(
    ctx: typer.Context,
    images: Annotated[
        list[str],
        typer.Argument(
            metavar="PATH_OR_S3_URI",
            help="Local JPEG/PNG images or MP4/MOV videos (uploaded to the images bucket) or s3://bucket/key "
            "URIs (used as is).",
        ),
    ],
    prefix: Annotated[
        str, typer.Option(help="Key prefix for uploads, used as is (include the trailing '/').")
    ] = "",
    as_json: AsJson = False,
    max_concurrency: Concurrency = 4,
    annotate: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR",
            help="Also write each image with its celebrities' (and watchlist matches') boxes and names "
            "into this folder.",
        ),
    ] = None,
    no_wait: Annotated[
        bool,
        typer.Option(
            "--no-wait",
            help="Videos: print the job's reference (version, and job id once started) and return; see it "
            "later with `celeb results --image KEY`.",
        ),
    ] = False,
    wait_minutes: Annotated[
        float | None,
        typer.Option(
            "--wait-minutes",
            min=0,
            help="Videos: give up watching after this many minutes (exit status 1; the job goes on). "
            f"Default: the stack's video_job_timeout_minutes plus {VIDEO_WAIT_MARGIN_MINUTES}.",
        ),
    ] = None,
) -> None:
    """Upload local images and recognize the celebrities in each image; videos (.mp4/.mov) too.

    Uploads are marked so that their own S3 event does not analyze them a second time: each
    image costs one Rekognition call, with or without the results table. For a video the command
    asks the stack's start queue for a Rekognition job (the stack needs -c video=true), follows it
    and prints when each celebrity appears.
    """
    # Local files are checked before the stack is even looked up: a typo costs no AWS call.
    targets = resolve_targets(images, prefix=prefix)
    if annotate is not None:
        pictures.check_directory(annotate)
    aws, outputs = _connect(ctx, max_concurrency=max_concurrency)
    videos = [target for target in targets if target.is_video]
    targets = [target for target in targets if not target.is_video]
    if videos and targets and as_json:
        raise UsageProblem("--json prints one document: give videos and images in separate runs")
    if not targets:
        errors = recognize_videos(
            aws, outputs, videos, wait=not no_wait, as_json=as_json, wait_minutes=wait_minutes
        )
        if errors:
            raise typer.Exit(int(worst_exit_code(errors)))
        return
    # Only local files need the images bucket; S3 URIs name their own.
    bucket = outputs.bucket if any(target.upload for target in targets) else ""
    with render.recognize_progress(render.stderr_console(), len(targets)) as advance:
        results_by_target = recognize_all(
            aws,
            targets,
            bucket=bucket,
            function_name=outputs.function_name,
            max_concurrency=max_concurrency,
            on_done=advance,
        )
    if as_json:
        render.print_json(render.recognition_document(results_by_target))
    else:
        console = render.stdout_console()
        for done in results_by_target:
            render.print_recognition(console, done)
    errors: list[CelebError] = []
    for done in results_by_target:
        if done.error is not None:
            errors.append(done.error)
            typer.echo(f"error: {done.target.source}: {done.error.message}", err=True)
    if annotate is not None:
        # On stderr: stdout stays the tables, or one JSON document with --json.
        # With a watchlist, each picture also has the matches the watchlist recorded so far.
        watchlist_table = (
            outputs.results_table if StackOutput.WATCHLIST_COLLECTION in outputs.values else None
        )
        drawn = pictures.annotate_all(
            aws.client("s3"),
            results_by_target,
            annotate,
            dynamodb=aws.client("dynamodb") if watchlist_table else None,
            watchlist_table=watchlist_table,
        )
        for picture in drawn:
            if picture.error is not None:
                errors.append(picture.error)
                typer.echo(f"error: {picture.done.target.source}: {picture.error.message}", err=True)
            elif picture.watchlist is not None and not picture.watchlist.searched:
                # An upload's key is in the images bucket; an s3:// URI is shown as given.
                named = picture.done.ref.key if picture.done.target.upload else picture.done.ref.uri
                typer.echo(
                    f"{picture.done.target.source}: drawn in {picture.path} (the watchlist has not searched "
                    f"it yet: `celeb show {named} --out FILE` adds its matches later)",
                    err=True,
                )
            else:
                typer.echo(f"{picture.done.target.source}: drawn in {picture.path}", err=True)
    # Videos after the images: their jobs take minutes, the images' answers are ready now.
    if videos:
        errors += recognize_videos(
            aws, outputs, videos, wait=not no_wait, as_json=False, wait_minutes=wait_minutes
        )
    if errors:
        raise typer.Exit(int(worst_exit_code(errors)))


@app.command()
@reports_errors
def results(
    ctx: typer.Context,
    image: Annotated[
        str | None,
        typer.Option(
            help="Every analyzed version of one image: a key in the images bucket, or s3://bucket/key."
        ),
    ] = None,
    celebrity: Annotated[
        str | None, typer.Option(help="Every image a celebrity was recognized in (exact name: 'Jeff Bezos').")
    ] = None,
    person: Annotated[
        str | None, typer.Option(help="Every image a watchlist person was matched in (their enrolled NAME).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many rows.")] = 50,
    as_json: AsJson = False,
) -> None:
    """Show stored results: all images, one image's versions, one celebrity's or one person's images."""
    aws, outputs = _connect(ctx)
    table = outputs.require(StackOutput.RESULTS_TABLE)
    dynamodb = aws.client("dynamodb")
    ref: ImageRef | None = None
    if image is not None:
        ref = parse_s3_uri(image) or ImageRef(outputs.bucket, image)
    if celebrity is not None and person is not None:
        raise UsageProblem("--celebrity and --person are two different questions: give one")
    if person is not None:
        # The person index exists only with the watchlist: without it, say so (not a failed Query).
        watchlist_cli.require_watchlist(outputs)
        items = person_matches(dynamodb, table, person, image=ref, limit=limit)
    elif celebrity is not None:
        items = celebrity_appearances(dynamodb, table, celebrity, image=ref, limit=limit)
    elif ref is not None:
        items = image_summaries(dynamodb, table, ref, limit=limit)
    else:
        items = scan_summaries(dynamodb, table, limit=limit)
    # With the watchlist, one image's history also shows what its searches found.
    searched = None
    if ref is not None and celebrity is None and person is None:
        searched = watchlist_cli.image_searches(outputs, dynamodb, table, ref, limit=limit)
    if as_json:
        render.print_json(
            {"count": len(items), "items": items} | ({"watchlist": searched} if searched is not None else {})
        )
        return
    console = render.stdout_console()
    if person is not None:
        watchlist_cli.print_person_matches(console, person, items, limit=limit)
    elif celebrity is not None:
        render.print_appearances(console, celebrity, items, limit=limit)
    elif ref is not None:
        render.print_history(console, ref, items, limit=limit)
        if searched is not None:
            watchlist_cli.print_image_watchlist(console, ref, searched)
    else:
        render.print_summaries(console, items, limit=limit)


@app.command()
@reports_errors
def backfill(
    ctx: typer.Context,
    execution: Annotated[
        str | None,
        typer.Argument(metavar="[EXECUTION]", help="With --status: a backfill's name or ARN."),
    ] = None,
    prefix: Annotated[str, typer.Option(help="Only images whose key starts with this.")] = "",
    rate: Annotated[
        float | None,
        typer.Option(min=0.01, help="--local: at most this many invocations a second (5)."),
    ] = None,
    max_concurrency: Annotated[
        int | None, typer.Option("--max-concurrency", min=1, help="--local: images analyzed at once (4).")
    ] = None,
    all_images: Annotated[
        bool,
        typer.Option(
            "--all", help="Analyze every image under the prefix, even with a result (needed without a table)."
        ),
    ] = False,
    retry_failed: Annotated[
        bool,
        typer.Option(
            "--retry-failed",
            help="Also analyze again images whose latest failure may have been transient (e.g. "
            "ImageNotFoundError, ImageArchivedError); never those that failed for their content "
            "(e.g. ImageTooSmallError).",
        ),
    ] = False,
    local: Annotated[
        bool, typer.Option("--local", help="Invoke the function from this machine, rate-limited, as before.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="In the cloud: count what would be queued, queue nothing.")
    ] = False,
    status: Annotated[
        bool, typer.Option("--status", help="Follow a cloud backfill: EXECUTION, or the newest.")
    ] = False,
) -> None:
    """Analyze the images already in the bucket that have no result yet. Safe to stop and re-run.

    When the stack has the backfill state machine, it runs in the cloud: the state machine lists the
    bucket and queues each image version without a result for the function; Ctrl-C stops watching,
    not the backfill. --local invokes the function from this machine instead.
    """
    aws, outputs = _connect(ctx, max_concurrency=max_concurrency or BackfillOptions.max_concurrency)
    state_machine = outputs.values.get(StackOutput.BACKFILL_STATE_MACHINE)
    if not local and state_machine is not None:
        if rate is not None or max_concurrency is not None:
            raise UsageProblem("--rate and --max-concurrency pace --local; in the cloud the queue paces it")
        options = cloud_backfill.CloudOptions(prefix, retry_failed, dry_run, all_images, status, execution)
        cloud_backfill.run(aws, outputs, state_machine, options)
        return
    if dry_run or status or execution is not None:
        raise UsageProblem(
            "--dry-run, --status and EXECUTION are for the cloud backfill"
            + (" (not with --local)" if local else f": stack {outputs.stack_name!r} was deployed without it")
        )
    # --local's defaults are BackfillOptions'; None told an explicit value from none.
    rate, max_concurrency = rate or BackfillOptions.rate, max_concurrency or BackfillOptions.max_concurrency
    bucket = outputs.bucket
    table = outputs.results_table
    if table is None and not all_images:
        raise ConfigProblem(
            f"stack {outputs.stack_name!r} has no {StackOutput.RESULTS_TABLE} output (deployed without the "
            "results table), so there is no way to know which images are done; pass --all to analyze "
            "every image"
        )
    options = BackfillOptions(
        bucket=bucket,
        function_name=outputs.function_name,
        table=table,
        prefix=prefix,
        rate=rate,
        max_concurrency=max_concurrency,
        reprocess_all=all_images,
        retry_failed=retry_failed,
    )
    with render.backfill_progress(render.stderr_console(), f"s3://{bucket}/{prefix}") as progress:
        summary = run_backfill(
            aws,
            options,
            on_listed=progress.listed,
            on_progress=progress.advance,
            on_stopping=progress.stopping,
        )
    render.print_backfill_summary(render.stdout_console(), summary)
    if summary.fatal is not None:
        _fail(summary.fatal.message, summary.fatal.exit_code)
    if summary.interrupted:
        _fail(
            f"interrupted: {summary.not_finished} image(s) not finished; run again to continue",
            ExitCode.INTERRUPTED,
        )
    if summary.failed:
        _fail(f"{len(summary.failed)} of {summary.found} image(s) failed (see above)", summary.exit_code)


@app.command()
@reports_errors
def info(ctx: typer.Context, as_json: AsJson = False) -> None:
    """Show the stack's outputs: the resources every other command uses."""
    _, outputs = _connect(ctx)
    if as_json:
        render.print_json(
            {
                "stack": outputs.stack_name,
                "region": outputs.region,
                "status": outputs.status,
                "outputs": outputs.values,
            }
        )
    else:
        render.print_outputs(render.stdout_console(), outputs)


@app.command()
@reports_errors
def check(
    ctx: typer.Context,
    fix: Annotated[
        bool, typer.Option("--fix", help="Switch the bucket's EventBridge publishing back on if it is off.")
    ] = False,
) -> None:
    """Check that uploads reach the stack: the images bucket publishes its events to EventBridge.

    A stack moved from S3 notifications to EventBridge loses that setting in the update (see the
    README); `make deploy` runs `celeb check --fix` after every deploy.
    """
    aws, outputs = _connect(ctx)
    result = check_upload_events(aws.client("s3"), outputs.bucket, fix=fix)
    if result.fixed:
        typer.echo(f"s3://{result.bucket}: EventBridge publishing was off; switched it back on")
        typer.echo("uploads made while it was off have no result yet: run `celeb backfill` for them")
    if not result.publishing:
        _fail(
            f"s3://{result.bucket} does not publish its events to EventBridge, so no upload is analyzed: "
            "run `celeb check --fix`",
            ExitCode.CONFIG,
        )
    if not result.fixed:
        typer.echo(f"s3://{result.bucket}: publishes its events to EventBridge")


@app.command()
@reports_errors
def show(
    ctx: typer.Context,
    image: Annotated[
        str, typer.Argument(metavar="KEY", help="A key in the images bucket, or s3://bucket/key.")
    ],
    out: Annotated[
        Path, typer.Option("--out", metavar="FILE", help="Where to write the picture (.png, .jpg or .jpeg).")
    ],
    version: Annotated[
        str | None, typer.Option(help="The object version whose result to draw (default: the latest).")
    ] = None,
) -> None:
    """Draw an analyzed image with each celebrity's box and name, from its stored result; with the
    watchlist, also each watchlist match's box, person and similarity."""
    pictures.output_format(out)  # a bad file name costs no AWS call
    aws, outputs = _connect(ctx)
    table = outputs.require(StackOutput.RESULTS_TABLE)
    ref = (parse_s3_uri(image) or ImageRef(outputs.bucket, image)).with_version(version)
    watchlist = StackOutput.WATCHLIST_COLLECTION in outputs.values
    shown = pictures.show(aws.client("s3"), aws.client("dynamodb"), table, ref, out, watchlist=watchlist)
    count = len(shown.result["celebrities"])
    drawn = f"{count} celebrit{'y' if count == 1 else 'ies'}"
    if shown.watchlist is not None:
        matches = len(shown.watchlist.matches)
        drawn += f" and {matches} watchlist match{'' if matches == 1 else 'es'}"
        if not shown.watchlist.searched:
            drawn += " (the watchlist has not searched this version yet)"
    typer.echo(f"{shown.ref.describe()}: {drawn} drawn in {out}")


# `celeb watchlist add|list|remove|search` (celeb/watchlist_cli.py), under the same error policy.
for _command in watchlist_cli.app.registered_commands:
    _command.callback = reports_errors(_command.callback)
app.add_typer(watchlist_cli.app, name="watchlist")


def main() -> None:
    app(prog_name="celeb")
