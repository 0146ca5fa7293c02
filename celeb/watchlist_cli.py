"""The `celeb watchlist` commands (add, list, remove, search) and how they print.

celeb/cli.py registers this app and wraps each command in its error policy (one `error:` line).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from celeb import render
from celeb import watchlist as wl
from celeb.aws import Aws
from celeb.errors import ConfigProblem
from celeb.results import image_watchlist
from celeb.stack import StackOutputs, read_outputs
from recognizer.contract import (
    SETTINGS_BY_KEY,
    USER_ID_ALLOWED,
    BoundingBox,
    ImageRef,
    SettingError,
    StackOutput,
    WatchlistFace,
)

app = typer.Typer(
    name="watchlist",
    no_args_is_help=True,
    help="Your own face collection: enroll, list, remove and search people (needs -c watchlist=true).",
)

Name = Annotated[
    str, typer.Argument(metavar="NAME", help=f"The person's id in the collection: {USER_ID_ALLOWED}.")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON document instead of tables.")]
_DEFAULT_THRESHOLD = float(SETTINGS_BY_KEY["watchlist_threshold"].default)


def _connect(ctx: typer.Context) -> tuple[Aws, StackOutputs, str]:
    # ctx.obj is the app's GlobalOptions (set by the `celeb` callback before any subcommand).
    options = ctx.obj
    aws = Aws(options.profile, options.region)
    outputs = read_outputs(aws.client("cloudformation"), options.stack)
    return aws, outputs, wl.collection_of(outputs)


@app.command("add")
def add(
    ctx: typer.Context,
    name: Name,
    photos: Annotated[list[str], typer.Argument(metavar="PHOTO...", help="JPEG/PNG photos, one face each.")],
) -> None:
    """Enroll a person from photos that each show exactly their face (more photos match better).

    Running it again for the same NAME adds photos to that person.
    """
    name = wl.person_name(name)
    checked = [wl.read_photo(photo) for photo in photos]  # every file checked before any AWS call
    aws, _, collection = _connect(ctx)
    try:
        face_ids = wl.enroll(aws.client("rekognition"), collection, name, checked)
    except BaseException as error:
        # The enrollment's error is the `error:` line; what its cleanup could not undo comes first.
        for note in getattr(error, "__notes__", []):
            typer.echo(f"warning: {note}", err=True)
        raise
    typer.echo(f"enrolled {name}: {len(face_ids)} face(s) added to collection {collection}")


@app.command("list")
def list_(ctx: typer.Context, as_json: AsJson = False) -> None:
    """Show every person in the collection and how many faces each has."""
    aws, _, collection = _connect(ctx)
    people, unassigned = wl.list_people(aws.client("rekognition"), collection)
    if as_json:
        render.print_json(
            {
                "collection": collection,
                "people": [vars(person) for person in people],
                "unassigned_faces": unassigned,
            }
        )
        return
    console = render.stdout_console()
    if not people:
        console.print(f"collection {collection} has nobody enrolled (celeb watchlist add NAME PHOTO...)")
    else:
        table = Table(title=f"Watchlist {collection}", title_justify="left")
        table.add_column("Person", no_wrap=True)
        table.add_column("Faces", justify="right")
        table.add_column("Status")
        for person in people:
            table.add_row(person.name, str(person.faces), person.status)
        console.print(table)
    if unassigned:
        console.print(
            f"{unassigned} face(s) belong to nobody (an interrupted enrollment): remove NAME deletes them"
        )


@app.command("remove")
def remove(
    ctx: typer.Context,
    name: Name,
    keep_matches: Annotated[
        bool, typer.Option("--keep-matches", help="Keep the person's match records in the results table.")
    ] = False,
) -> None:
    """Delete a person completely: their user vector, every face enrolled for them, and their matches."""
    name = wl.person_name(name)
    aws, outputs, collection = _connect(ctx)
    table = None if keep_matches else outputs.results_table
    removal = wl.remove(
        aws.client("rekognition"),
        collection,
        name,
        dynamodb=aws.client("dynamodb") if table else None,
        table=table,
    )
    typer.echo(
        f"removed {name}: {removal.faces} face(s) deleted, {removal.match_records} match record(s) deleted"
    )


@app.command("search")
def search(
    ctx: typer.Context,
    photo: Annotated[str, typer.Argument(metavar="PHOTO", help="A local JPEG/PNG photo.")],
    threshold: Annotated[
        float | None,
        typer.Option(
            min=0,
            max=100,
            help="Lowest similarity shown (default: the stack's watchlist_threshold, which the watchlist "
            f"function stores and alerts at; {_DEFAULT_THRESHOLD:g} for a stack without the "
            f"{StackOutput.WATCHLIST_THRESHOLD} output).",
        ),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Search every face of a photo against the collection (nothing is stored)."""
    checked = wl.read_photo(photo)
    aws, outputs, collection = _connect(ctx)
    if threshold is None:
        threshold = stack_threshold(outputs)
    faces = wl.search(aws.client("rekognition"), collection, checked, threshold)
    if as_json:
        render.print_json({"photo": photo, "threshold": threshold, "faces": faces})
        return
    print_faces(render.stdout_console(), photo, faces, threshold)


def stack_threshold(outputs: StackOutputs) -> float:
    """The deployed watchlist_threshold (the stack's output); the setting's default if it has none."""
    raw = outputs.values.get(StackOutput.WATCHLIST_THRESHOLD)
    if raw is None:  # a stack deployed before the output existed
        return _DEFAULT_THRESHOLD
    try:
        return float(SETTINGS_BY_KEY["watchlist_threshold"].parse(raw))
    except SettingError as error:
        raise ConfigProblem(
            f"stack {outputs.stack_name!r} output {StackOutput.WATCHLIST_THRESHOLD}={raw!r} is not "
            f"{error.allowed}"
        ) from None


def _box(box: BoundingBox) -> str:
    return f"left {box['left']:.2f} top {box['top']:.2f} {box['width']:.2f}x{box['height']:.2f}"


def print_faces(console: Console, photo: str, faces: list[WatchlistFace], threshold: float) -> None:
    if not faces:
        console.print(f"{photo}: no face found")
        return
    table = Table(title=f"{photo}: {len(faces)} face(s), threshold {threshold:g}%", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("Box", no_wrap=True)
    table.add_column("Outcome")
    table.add_column("Person")
    table.add_column("Similarity", justify="right")
    for number, face in enumerate(faces, start=1):
        people = "\n".join(match["person"] for match in face["matches"]) or "-"
        similarity = "\n".join(f"{match['similarity']:.2f}%" for match in face["matches"]) or "-"
        table.add_row(str(number), _box(face["bounding_box"]), face["outcome"], people, similarity)
    console.print(table)


def print_person_matches(console: Console, name: str, items: list[dict[str, Any]], *, limit: int) -> None:
    if not items:
        console.print(f"no watchlist match of {name!r} on record")
        return
    table = Table(title=f"Watchlist matches of {name}", title_justify="left")
    table.add_column("Image", no_wrap=True)
    table.add_column("Version", no_wrap=True)
    table.add_column("Similarity", justify="right")
    table.add_column("Box", no_wrap=True)
    table.add_column("Analyzed at", no_wrap=True)
    for item in items:
        table.add_row(
            f"s3://{item['bucket']}/{item['key']}",
            str(item.get("version_id") or "-"),
            f"{item['similarity']:.2f}%",
            _box(item["bounding_box"]),
            str(item["analyzed_at"]),
        )
    if len(items) >= limit:
        table.caption = f"first {limit}; --limit shows more"
    console.print(table)


def require_watchlist(outputs: StackOutputs) -> None:
    """ConfigProblem (like every `celeb watchlist` command) unless the stack has the watchlist."""
    wl.collection_of(outputs)


def image_searches(
    outputs: StackOutputs, dynamodb: Any, table: str, ref: ImageRef, *, limit: int
) -> list[dict[str, Any]] | None:
    """The watchlist's searches of one image; None when the stack has no watchlist."""
    if StackOutput.WATCHLIST_COLLECTION not in outputs.values:
        return None
    return image_watchlist(dynamodb, table, ref, limit=limit)


def print_image_watchlist(console: Console, ref: ImageRef, summaries: list[dict[str, Any]]) -> None:
    if not summaries:
        console.print(f"no watchlist search of {ref.uri} on record")
        return
    table = Table(title=f"Watchlist: {ref.uri}", title_justify="left")
    table.add_column("Analyzed at", no_wrap=True)
    table.add_column("Version", no_wrap=True)
    table.add_column("Faces", justify="right")
    table.add_column("Too small", justify="right")
    table.add_column("Matches or error", overflow="fold")
    for summary in summaries:
        if summary.get("status") == "FAILED":
            details = f"{summary.get('error_type')}: {summary.get('error_message')}"
        else:
            details = "\n".join(f"{m['person']} {m['similarity']:.2f}%" for m in summary["matches"]) or "-"
        table.add_row(
            str(summary.get("analyzed_at")),
            str(summary.get("version_id") or "-"),
            str(summary.get("face_count", 0)),
            str(summary.get("too_small", 0)),
            details,
        )
    console.print(table)
