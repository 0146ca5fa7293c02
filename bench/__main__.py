"""Runs every benchmark and prints one table: each figure beside its floor, measured in the same run.

    make bench                                   # = .venv/bin/python -m bench --write
    .venv/bin/python -m bench --only synth asset # a subset, printed only
    .venv/bin/python -m bench --runs 5           # more runs per median

`--write` replaces BENCHMARKS.md with the table, the machine it ran on and this command.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bench import (
    asset_bench,
    backfill_bench,
    dedup_bench,
    handler_bench,
    suite_bench,
    synth_bench,
    throughput_bench,
)
from bench.measure import ROOT, Row

PARTS = ("synth", "suite", "asset", "handler", "dedup", "throughput", "backfill")


def handler_rows(runs: int) -> list[Row]:
    imports = handler_bench.bench_imports(max(runs, 15))  # imports are noisy: more runs
    rows = [
        Row(f"cold import of the handler (median of {imports['runs']})", f"{imports['handler_ms']} ms",
            f"{imports['boto3_ms']} ms (`import boto3`)", f"{imports['ratio']}x", imports["target"],
            imports["ok"]),
    ]  # fmt: skip
    for storage in (True, False):
        warm = handler_bench.bench_warm("call", storage, calls=1000, naive_calls=100)
        rows.append(
            Row(f"warm overhead per image (CPU time), {'with' if storage else 'without'} results table",
                f"{warm['cached_clients_ms']} ms", f"{warm['clients_per_call_ms']} ms (clients per call)",
                f"{warm['ratio']}x lower", warm["target"], warm["ok"])
        )  # fmt: skip
        rows.append(
            Row(f"the same AWS calls replayed, no function code ({', '.join(warm['aws_calls'])})",
                f"{warm['replayed_calls_ms']} ms", f"{warm['clients_per_call_ms']} ms (clients per call)",
                f"{warm['ceiling']}x lower (the ceiling)", "-", None)
        )  # fmt: skip
    return rows


def table(rows: list[Row]) -> str:
    lines = [
        "| measure | value | floor / baseline | ratio | target | met |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        met = "-" if r.met is None else ("yes" if r.met else "**no**")
        lines.append(f"| {r.name} | {r.value} | {r.floor} | {r.ratio} | {r.target} | {met} |")
    return "\n".join(lines)


def machine() -> str:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith(("model name", "Model"))),
        platform.processor() or "unknown CPU",
    ) if Path("/proc/cpuinfo").exists() else platform.processor()  # fmt: skip
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} cores, {memory:.0f} GiB; "
            f"Python {platform.python_version()}, Node {node}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the benchmarks and print one table.")
    parser.add_argument("--runs", type=int, default=3, help="runs per median (default 3)")
    parser.add_argument("--only", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--write", action="store_true", help="write BENCHMARKS.md")
    args = parser.parse_args()

    rows: list[Row] = []
    listing: list[str] = []
    if "synth" in args.only:
        rows += synth_bench.run(args.runs)
    if "suite" in args.only:
        rows += suite_bench.run(args.runs)
    with tempfile.TemporaryDirectory() as scratch:
        if {"asset", "throughput"} & set(args.only):
            out = Path(scratch) / "cdk.out"
            asset = asset_bench.bundle(out)
            if "asset" in args.only:
                asset_rows, listing = asset_bench.measure(asset)
                rows += asset_rows + asset_bench.watchlist_rows(Path(scratch))
            if "throughput" in args.only:
                rows += throughput_bench.run(args.runs, asset, next(out.glob("*.template.json")))[0]
    if "handler" in args.only:
        rows += handler_rows(args.runs)
    if "dedup" in args.only:
        rows += dedup_bench.run(args.runs)
    if "backfill" in args.only:
        rows += backfill_bench.run()

    report = table(rows)
    print(report)
    if listing:
        print("\nfunction package contents: " + ", ".join(listing))
    if args.write:
        write(report, listing, args)


# Why a target is missed, as measured when this file was last written (kept in step by hand).
NOTES = """- Target missed: *warm overhead with results table*, and no function code can meet it: the
  row below it replays the four AWS calls a first delivery makes (the S3 probe, BatchGetItem,
  RecognizeCelebrities, TransactWriteItems), with their exact parameters and no function code, and
  botocore's own client-side work for them (building, serialising, endpoint rules) is the ceiling
  shown, under 20x. The function's own share is the difference between the two rows. The largest
  single cost is TransactWriteItems (botocore serialises every typed value of the summary, its
  index items and the content record, and walks every transaction item with JMESPath for its
  ResourceArnList endpoint parameter). 20x would need fewer calls (each is needed: the probe for the
  version, format and digest, the read for deduplication, the write for the result) or cheaper
  ones (a stored summary with its celebrities as a JSON string, or a patch of botocore's internals).
  DynamoDB's account-ID endpoint mode is off (Lambda's credentials carry no account id, so the
  regional endpoint is used either way), which took about 50 us off each DynamoDB call. Without the
  table the target is met.
- *make test* depends on when it runs more than on the code: the same commit took 165-170 s
  (316 CPU-s under xdist) one hour and 95 s (173 CPU-s) the next; a fresh clone's pytest took
  88.8 s just before the run above. A pure-Python loop ran at one speed alone and two at once
  (the host, not the suite's parallelism). The row shows every
  run. The largest items: the 500-upload burst on moto_server (about 28 CPU-s alone: the server 11,
  the two drainers 6; its drain cannot end before the 12 s visibility timeout brings the
  hard-throttled messages back), cfn-lint over every variant (10 s), the first synthesis in each
  worker (jsii's warm-up), collection (about 7 s per worker, most of it pytest rewriting asserts),
  the cloud backfill run by moto's Step Functions interpreter (its two files the longest after the
  burst). On a slow hour of the host the suite still takes over 120 s.
- The function's own code, timed alone (the same invocation with AWS answered by plain Python
  objects, no botocore): 354 us, of which boto3's TypeSerializer and the float-to-Decimal walk
  before it are about 45%. Typed items built by hand would save about 130 us: about 14x, still
  under the ceiling, and a serializer of our own where boto3 has one.
- Tried for the warm overhead and not kept: parameter validation off for S3 and Rekognition (no
  measurable change); the summary's celebrities as one JSON string with a plain typed serializer
  in place of boto3's (13.5x to 15.3x in one run; its replayed calls 0.81 ms against 0.94 ms, so
  still a ceiling near 20x, and a stored shape every reader would have to parse); caching
  botocore's endpoint resolution per operation (about 18x with the former, but a patch of
  botocore's internals in production code).
- *cdk synth, default app* sits around the 1.5x line and moves with the host's load: 1.61x and
  1.37x in two runs of 2026-12-07 (empty stack 4.40 s and 5.60 s), 1.39x-1.68x before. Where the
  time goes, timed by phase in the app's own Python process: the empty stack's 2.8 s are mostly
  aws-cdk-lib's built-in CloudFormation Validate (2.0 s: it runs on every synthesis;
  `CDK_VALIDATION=false` skips it), and this app adds importing its construct modules and cdk-nag
  (0.6 s), building the tree (0.55 s, about 400 jsii round trips), validating a larger template
  (0.6 s more) and cdk-nag's packs, asset staging and writing (0.45 s). The CLI's own share is
  the same for both (2.35 s to read either finished assembly). Importing the watchlist and video
  constructs only when switched on would save 20 ms (measured); validation and cdk-nag are gates,
  kept. Switching the cloud backfill off changes the figure by nothing measurable.
"""


def write(report: str, listing: list[str], args: argparse.Namespace) -> None:
    command = "make bench" if args.runs == 3 and len(args.only) == len(PARTS) else (
        f".venv/bin/python -m bench --runs {args.runs} --only {' '.join(args.only)} --write")  # fmt: skip
    text = f"""# Benchmarks

Last run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}.
Reproduce with `{command}` (medians of {args.runs} runs unless a row says otherwise; each ratio is
taken against a floor measured in the same run, so it holds on a noisy machine).

{report}

Function package contents: {", ".join(listing) or "(not measured)"}.

How to read it:
- *cdk synth*: the pinned CLI synthesizing this app (cdk-nag included) with the function asset
  already bundled, against the same CLI synthesizing an empty stack; *first* includes local bundling.
  *Every option on* switches on each optional part the stack has (the ones named in the row; the
  alarm email's SNS topic is the one off by default).
- *make test*: ruff and the whole pytest suite, including the integration tests on moto_server.
- *celebrity function package*: the stack's own function, zipped as CDK uploads it; the
  *watchlist function package* (only with `-c watchlist=true`) carries Pillow, which stays out of it.
- *warm overhead*: one direct invocation with AWS answered in-process at botocore's `before-call`,
  cached clients against clients created on every call as the case study did, in CPU time of the
  process (a busy neighbour's preemptions are not the function's overhead), image lines logged at
  the stack's default level into memory. *The same AWS calls replayed*: only the calls that
  invocation made, with its parameters, on the cached clients; no function can go under it. With the results
  table a first delivery makes four AWS calls: the S3 probe, one BatchGetItem (the version's
  result and the content record of its bytes), RecognizeCelebrities and one TransactWriteItems.
- *Rekognition calls per 1,000 uploads*: the real handler in-process, draining SQS batches of upload
  events against moto S3 and DynamoDB, RecognizeCelebrities counted at botocore's `before-call`;
  the copies are spread over new keys and new versions of a key, uploaded with a SHA-256 checksum
  (as `celeb` does), with CRC32, and larger than the probe's 64 KB. Cost: calls x $0.001.
- *content digest*: the worst case, a 15 MB image without a SHA-256 checksum, read again in full
  and hashed; moto has no network, so the AWS cost adds the transfer at the throughput named in
  the row to the measured hashing time. Images up to 64 KB are hashed from the probe's bytes (no
  extra call), and images uploaded with a SHA-256 checksum cost one GET whose body is not read.
- *SQS drain on moto*: bundled handler processes draining a real moto queue, writing to moto
  DynamoDB, Rekognition stubbed locally; moto serves every call from one Python process on the same
  2 cores, so this measures the function plus moto, not AWS. Real-world throughput is set by the
  Rekognition quota and `max_concurrency`: see the README.
- *cloud backfill enqueue rate*: the synthesized backfill state machine run by moto's Step Functions
  interpreter in-process (tests/infra/backfill_moto.py) over 10,000 images without a result: each is
  HEADed, looked up and sent to the queue; the floor is 10,000 non-images, which touch no service.
  moto runs every state as Python in one process: it measures moto, not AWS (README, Backfill).
{NOTES}"""
    (ROOT / "BENCHMARKS.md").write_text(text)


if __name__ == "__main__":
    main()
