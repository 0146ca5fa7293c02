"""The cloud backfill's state machine, as synthesized, executed by moto's Step Functions interpreter.

moto 5.2.5 runs state machines with its ASL parser when `stepfunctions.execute_state_machine` is on,
calling S3, DynamoDB and SQS in moto itself. It runs a Distributed Map with an S3 ListObjectsV2
ItemReader, inline Maps, Choice rules, the intrinsic functions used, `aws-sdk:s3:headObject`,
`dynamodb:getItem`, `aws-sdk:sqs:sendMessageBatch` and a ResultWriter. What it cannot do, and what
this module changes so that the rest runs (each a gap of the emulator, none a part of ours):

1. Its ASL grammar has no `ItemBatcher` (nor `WriterConfig`): the definition is rejected. Here the
   ItemReader reads one page of MaxItemsPerBatch keys per item, and an ItemSelector gives each child
   workflow the input AWS gives it, `{"Items": [<objects>], "BatchInput": <the BatchInput>}`.
   MaxInputBytesPerBatch is not applied, and the Map Run counts batches where AWS counts objects.
2. Its grammar accepts only `STANDARD` as a Map's ExecutionType and only a decimal number as
   ToleratedFailurePercentage: rewritten to STANDARD and a float. moto evaluates neither Express's
   limits nor the tolerated failure percentage (it logs that the declaration has no effect).
3. Its ItemReader makes one ListObjectsV2 call: a bucket of more than 1,000 objects would be cut
   short. Here every page is read, as Step Functions does.
4. Its ResultWriter writes a manifest that names no result file. Here the child workflows' outputs
   are written as AWS writes them with `WriterConfig` COMPACT + JSONL: one file of JSON lines
   (failed child workflows are left out: moto keeps no record of them).
5. ListMapRuns on an execution whose worker thread has not started yet fails with an internal
   error (a race in moto); here it answers an empty list, as Step Functions does before the Map
   state starts.

moto also runs slowly enough to matter with thousands of objects (a new boto3 client for every task,
a deep copy of the state for every state, a JSONPath grammar built for every path): `moto_backfill`
caches the clients and JSONPath parses and copies JSON through `json`, which changes no result, and
skips the sleeps between a Retrier's attempts (the attempts themselves still happen).
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import threading
import time
import types
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import jsonpath_ng
import jsonpath_ng.ext
from boto3.dynamodb.types import TypeSerializer
from moto import mock_aws
from moto.s3.models import s3_backends
from moto.stepfunctions.parser.asl.component.common.path import result_path
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval import (
    resource_eval_s3 as item_reader_s3,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval import (
    resource_eval_s3 as result_writer_s3,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_aws_sdk,
    state_task_service_dynamodb,
)
from moto.stepfunctions.parser.asl.eval import states as moto_states
from moto.stepfunctions.parser.asl.utils import boto_client, json_path
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from recognizer.contract import PARTITION_KEY, SORT_KEY, BackfillCount, ImageRef
from recognizer.events import Work, parse_sqs_body

ACCOUNT = "123456789012"
REGION = "us-east-1"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/backfill"
EXECUTE = {"stepfunctions": {"execute_state_machine": True}}
_serialize = TypeSerializer().serialize


def resolve(value: Any, names: dict[str, str]) -> Any:
    """A template value with its Refs, Fn::GetAtt and Fn::Joins replaced by `names`."""
    if isinstance(value, dict):
        if "Ref" in value:
            return names[value["Ref"]]
        if "Fn::GetAtt" in value:
            return names[".".join(value["Fn::GetAtt"])]
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return separator.join(str(resolve(part, names)) for part in parts)
        return {key: resolve(item, names) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, names) for item in value]
    return value


def state_machine_definition(template: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """The backfill state machine's definition, with the resource names filled in from `names`."""
    [machine] = [r for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    return json.loads(resolve(machine["Properties"]["DefinitionString"], {"AWS::Partition": "aws", **names}))


def for_moto(definition: dict[str, Any], *, objects_per_batch: int | None = None) -> dict[str, Any]:
    """`definition` without what moto's grammar rejects (gaps 1 and 2 above); nothing else changes.

    `objects_per_batch` overrides MaxItemsPerBatch, for runs that want more child workflows.
    """
    runnable = copy.deepcopy(definition)
    for state in states_of(runnable):
        if state.get("Type") != "Map" or "ItemReader" not in state:
            continue
        batcher = state.pop("ItemBatcher")
        # One ListObjectsV2 page per batch (see `_list_batches`): each item is a batch's objects.
        state["ItemReader"]["Parameters"]["MaxKeys"] = objects_per_batch or batcher["MaxItemsPerBatch"]
        state["ItemSelector"] = {"Items.$": "$$.Map.Item.Value", "BatchInput": batcher.get("BatchInput", {})}
        state.get("ResultWriter", {}).pop("WriterConfig", None)
        state["ItemProcessor"]["ProcessorConfig"]["ExecutionType"] = "STANDARD"
        if "ToleratedFailurePercentage" in state:
            state["ToleratedFailurePercentage"] = float(state["ToleratedFailurePercentage"])
    return runnable


def states_of(definition: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every state of a definition, those of Map item processors included."""
    for state in definition["States"].values():
        yield state
        if "ItemProcessor" in state:
            yield from states_of(state["ItemProcessor"])


class _Emulator:
    """The replacements `moto_backfill` installs; `after_listing` runs once the listing is read."""

    def __init__(self) -> None:
        self.after_listing: Callable[[], None] = lambda: None
        self._clients: dict[tuple[str, str, str], Any] = {}
        self._lock = threading.Lock()

    def client(self, region: str, service: str, state_credentials: Any = None) -> Any:
        # Keyed by endpoint too: in server mode moto's clients call the port in MOTO_PORT.
        key = (region, service, boto_client.moto_server_port())
        with self._lock:
            if key not in self._clients:
                self._clients[key] = _new_client(region, service, state_credentials)
            return self._clients[key]

    def list_batches(self, env: Any, resource_runtime_part: Any, state_credentials: Any) -> None:
        s3 = self.client(resource_runtime_part.region, "s3")
        parameters = env.stack.pop()
        pages = s3.get_paginator("list_objects_v2").paginate(**parameters)
        batches = [page["Contents"] for page in pages if page.get("Contents")]
        self.after_listing()
        # Step Functions hands LastModified on as a string, as the JSON it is.
        env.stack.append(json.loads(json.dumps(batches, default=str)))

    def write_results(self, env: Any, resource_runtime_part: Any, state_credentials: Any) -> None:
        parameters = env.stack.pop()
        outputs = env.stack.pop()
        s3 = self.client(resource_runtime_part.region, "s3")
        map_run_arn = env.map_run_record_pool_manager.get_all().pop().map_run_arn
        bucket = parameters["Bucket"]
        folder = f"{parameters['Prefix'].rstrip('/')}/{map_run_arn.split(':')[-1]}/"
        files: dict[str, list[dict[str, Any]]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
        succeeded = [output for output in outputs if output is not None]
        if succeeded:
            body = "".join(json.dumps(output) + "\n" for output in succeeded).encode()
            s3.put_object(Bucket=bucket, Key=f"{folder}SUCCEEDED_0.json", Body=body)
            files["SUCCEEDED"].append({"Key": f"{folder}SUCCEEDED_0.json", "Size": len(body)})
        manifest = {"DestinationBucket": bucket, "MapRunArn": map_run_arn, "ResultFiles": files}
        s3.put_object(Bucket=bucket, Key=f"{folder}manifest.json", Body=json.dumps(manifest).encode())
        details = {"Bucket": bucket, "Key": f"{folder}manifest.json"}
        env.stack.append({"MapRunArn": map_run_arn, "ResultWriterDetails": details})


_new_client = boto_client.boto_client_for
_CLIENT_USERS = (boto_client, state_task_service_aws_sdk, state_task_service_dynamodb)


_moto_list_map_runs = StepFunctionsParserBackend.list_map_runs


def _list_map_runs(backend: StepFunctionsParserBackend, execution_arn: str) -> dict[str, Any]:
    worker = backend.describe_execution(execution_arn=execution_arn).exec_worker
    if worker is None or worker.env is None:
        return {"mapRuns": []}
    return _moto_list_map_runs(backend, execution_arn)


def _json_copy(value: Any) -> Any:
    # What the interpreter copies is JSON (state input and output): `json` copies it far faster.
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return json.loads(json.dumps(value, default=str))


@contextmanager
def moto_backfill(*, in_process: bool = True) -> Iterator[_Emulator]:
    """moto executing state machines (in this process, or in a moto server that runs in this
    process), with the gaps above filled and its speed made bearable. Restores everything after."""
    emulator = _Emulator()
    with ExitStack() as undo:
        if in_process:
            undo.enter_context(mock_aws(config=EXECUTE))

        def replace(owner: Any, name: str, value: Any) -> None:
            saved = owner.__dict__[name]
            setattr(owner, name, value)
            undo.callback(setattr, owner, name, saved)

        replace(item_reader_s3.ResourceEvalS3, "_handle_list_objects_v2", staticmethod(emulator.list_batches))
        replace(result_writer_s3.ResourceEvalS3, "_handle_put_object", staticmethod(emulator.write_results))
        replace(StepFunctionsParserBackend, "list_map_runs", _list_map_runs)
        for module in (*_CLIENT_USERS, item_reader_s3, result_writer_s3):
            replace(module, "boto_client_for", emulator.client)
        replace(moto_states, "copy", types.SimpleNamespace(deepcopy=_json_copy))
        # Retry intervals are real sleeps: the decisions (which errors, how often) stay, the waits go.
        replace(retrier_decl, "time", types.SimpleNamespace(sleep=lambda seconds: None))
        replace(json_path, "parse", functools.cache(jsonpath_ng.ext.parse))
        # ResultPath builds its own (plain) JSONPath grammar for every state it evaluates, and
        # deep-copies the state's result, which is JSON.
        replace(result_path, "parse", functools.cache(jsonpath_ng.parse))
        replace(result_path, "copy", types.SimpleNamespace(deepcopy=_json_copy))
        # Every IsPresent on a missing field is logged as an error with its traceback.
        parser_log = logging.getLogger("moto.stepfunctions")
        undo.callback(parser_log.setLevel, parser_log.level)
        parser_log.setLevel(logging.CRITICAL)
        yield emulator


# The names of the stack's resources in moto, as `names_in` maps the template's logical IDs to them.
IMAGES, REPORTS, TABLE, QUEUE = "images-bucket", "reports-bucket", "results-table", "uploads"


def names_in(
    template: dict[str, Any],
    queue_url: str,
    *,
    images: str = IMAGES,
    reports: str = REPORTS,
    table: str = TABLE,
) -> dict[str, str]:
    """The names of the resources the backfill's definition refers to, by the template's logical IDs."""

    def logical_id(path: str) -> str:
        [found] = [key for key in template["Resources"] if key[:-8] == path]
        return found

    names = {logical_id("StorageImages"): images, logical_id("BackfillReports"): reports,
             logical_id("IngestionQueue"): queue_url}  # fmt: skip
    if any(key[:-8] == "ResultsTable" for key in template["Resources"]):
        names[logical_id("ResultsTable")] = table
    return names


@dataclass
class MotoRun:
    described: dict[str, Any]  # DescribeExecution's answer
    bodies: list[str]  # the messages that reached the queue
    report: list[dict[str, Any]]  # the ResultWriter's lines: one count per BackfillCount per batch

    @property
    def sent(self) -> list[ImageRef]:
        """Each message as the function reads it from SQS: the direct payload, not an upload event."""
        refs = []
        for body in self.bodies:
            [work] = parse_sqs_body(body)
            assert isinstance(work, Work) and not work.from_upload, body
            refs.append(work.image)
        return refs

    @property
    def counts(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for line in self.report:
            assert set(line) == {count.value for count in BackfillCount}, line
            total.update(line)
        return total


@dataclass
class MotoStack:
    """The resources the backfill touches, in moto: bucket, reports bucket, results table, queue."""

    emulator: _Emulator
    queue_url: str
    machine_arn: str = ""
    no_table_machine_arn: str = ""
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def create(cls, emulator: _Emulator) -> MotoStack:
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in (IMAGES, REPORTS):
            s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=IMAGES, VersioningConfiguration={"Status": "Enabled"})
        keys = (PARTITION_KEY, SORT_KEY)
        boto3.client("dynamodb", region_name=REGION).create_table(
            TableName=TABLE,
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[
                {"AttributeName": name, "KeyType": kind}
                for name, kind in zip(keys, ("HASH", "RANGE"), strict=True)
            ],
            AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"} for name in keys],
        )
        return cls(
            emulator, boto3.client("sqs", region_name=REGION).create_queue(QueueName=QUEUE)["QueueUrl"]
        )

    def client(self, service: str) -> Any:
        # One client per service: under mock_aws a new client costs more than the calls it makes.
        if service not in self._clients:
            self._clients[service] = boto3.client(service, region_name=REGION)
        return self._clients[service]

    def state_machine(self, template: dict[str, Any], name: str, **moto_options: Any) -> str:
        definition = for_moto(
            state_machine_definition(template, names_in(template, self.queue_url)), **moto_options
        )
        created = self.client("stepfunctions").create_state_machine(
            name=name, definition=json.dumps(definition), roleArn=ROLE_ARN
        )
        return str(created["stateMachineArn"])

    def put(self, key: str, body: bytes = b"x") -> str:
        """Store an object straight in moto's S3 backend (thousands a second); its version id."""
        return str(s3_backends[ACCOUNT]["aws"].put_object(IMAGES, key, body).version_id)

    def record(self, items: list[dict[str, Any]]) -> None:
        """Write results-table items made by the contract's builders."""
        dynamodb = self.client("dynamodb")
        for start in range(0, len(items), 25):  # BatchWriteItem's limit
            requests = [{"PutRequest": {"Item": {k: _serialize(v) for k, v in item.items()}}}
                        for item in items[start : start + 25]]  # fmt: skip
            dynamodb.batch_write_item(RequestItems={TABLE: requests})

    def run(self, prefix: str | None = None, *, machine: str | None = None, drain: bool = True,
            **options: Any) -> MotoRun:  # fmt: skip
        """One execution to its end; the queue is drained after it (so each run starts empty)."""
        sfn = self.client("stepfunctions")
        execution_input = {**options, **({} if prefix is None else {"prefix": prefix})}
        execution = sfn.start_execution(
            stateMachineArn=machine or self.machine_arn,
            name=uuid.uuid4().hex,
            input=json.dumps(execution_input),
        )["executionArn"]
        described = wait_for_execution(sfn, execution)
        return MotoRun(described, self.drain() if drain else [], self._report(described))

    def drain(self) -> list[str]:
        sqs, bodies = self.client("sqs"), []
        while messages := sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get(
            "Messages"
        ):
            bodies += [message["Body"] for message in messages]
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
            sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
        return bodies

    def _report(self, described: dict[str, Any]) -> list[dict[str, Any]]:
        if described["status"] != "SUCCEEDED":
            return []
        s3 = self.client("s3")
        details = json.loads(described["output"])["report"]["ResultWriterDetails"]
        manifest = json.loads(s3.get_object(Bucket=details["Bucket"], Key=details["Key"])["Body"].read())
        lines = []
        for entry in manifest["ResultFiles"]["SUCCEEDED"]:
            body = s3.get_object(Bucket=details["Bucket"], Key=entry["Key"])["Body"].read().decode()
            lines += [json.loads(line) for line in body.splitlines()]
        return lines


def wait_for_execution(sfn: Any, execution_arn: str, timeout: float = 300) -> dict[str, Any]:
    # Each DescribeExecution holds the interpreter lock for milliseconds that the execution's own
    # threads then wait for: polling every 20 ms took as much CPU as the run of 1,100 objects. The
    # interval grows from 20 ms to 250 ms, so that short runs still end promptly.
    deadline, interval = time.monotonic() + timeout, 0.02
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING" or time.monotonic() > deadline:
            return described
        time.sleep(interval)
        interval = min(interval * 1.5, 0.25)
