"""The cloud backfill's state machine, as synthesized, executed by moto's Step Functions interpreter.

moto 5.2.5 runs state machines with its ASL parser when `stepfunctions.execute_state_machine` is on,
calling S3, DynamoDB and SQS in moto itself. It runs a Distributed Map with an S3 ListObjectsV2
ItemReader, inline Maps, Choice rules, intrinsic functions, `aws-sdk:s3:headObject`,
`dynamodb:getItem`, `aws-sdk:sqs:sendMessageBatch` and a ResultWriter. What it cannot do, and what
this module changes so that the rest runs (each a gap of the emulator, none a part of ours):

1. Its ASL grammar has no `ItemBatcher` (nor `WriterConfig`): the definition is rejected. Here each
   batch becomes one object: an ItemSelector builds the input AWS gives a child workflow,
   `{"Items": [<object>], "BatchInput": <the BatchInput>}`. So batching itself (grouping up to
   MaxItemsPerBatch objects) is not run; a child workflow that examines one object and one that
   examines a hundred run the same states.
2. Its grammar accepts only `STANDARD` as a Map's ExecutionType and only a decimal number as
   ToleratedFailurePercentage: rewritten to STANDARD and a float (Express's limits are not run).
3. Its ItemReader makes one ListObjectsV2 call: a bucket of more than 1,000 objects would be cut
   short. `paginated_item_reader` lists every page, as Step Functions does.
4. Its ResultWriter writes a manifest that names no result file. `writing_result_writer` writes the
   child workflows' outputs as AWS does with `WriterConfig` COMPACT + JSONL: one file of JSON lines.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval import (
    resource_eval_s3 as item_reader_s3,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval import (
    resource_eval_s3 as result_writer_s3,
)


def resolve(value: Any, names: dict[str, str]) -> Any:
    """A template value with its Refs, Fn::GetAtt Arn/QueueUrl and Fn::Joins replaced by `names`."""
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
    """The backfill state machine's definition, with this stack's resource names filled in."""
    [machine] = [r for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    return json.loads(resolve(machine["Properties"]["DefinitionString"], names))


def for_moto(definition: dict[str, Any], *, objects_per_batch: int | None = None) -> dict[str, Any]:
    """`definition` without what moto's grammar rejects (gaps 1 and 2 above); nothing else changes.

    `objects_per_batch` overrides MaxItemsPerBatch: moto copies a child workflow's whole input for
    each object it examines, so a batch costs it time quadratic in its size (AWS does no such thing).
    """
    runnable = copy.deepcopy(definition)
    for state in _states(runnable):
        if state.get("Type") != "Map" or "ItemReader" not in state:
            continue
        batcher = state.pop("ItemBatcher")
        # The listing is read a batch a page (see `_list_batches`): each item is one batch's objects.
        state["ItemReader"]["Parameters"]["MaxKeys"] = objects_per_batch or batcher["MaxItemsPerBatch"]
        state["ItemSelector"] = {"Items.$": "$$.Map.Item.Value", "BatchInput": batcher.get("BatchInput", {})}
        state.get("ResultWriter", {}).pop("WriterConfig", None)
        state["ItemProcessor"]["ProcessorConfig"]["ExecutionType"] = "STANDARD"
        if "ToleratedFailurePercentage" in state:
            state["ToleratedFailurePercentage"] = float(state["ToleratedFailurePercentage"])
    return runnable


def _states(definition: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for state in definition["States"].values():
        yield state
        for nested in (state.get("ItemProcessor"), state.get("Iterator")):
            if nested:
                yield from _states(nested)


def _list_batches(env: Any, resource_runtime_part: Any, state_credentials: Any) -> None:
    s3 = item_reader_s3.ResourceEvalS3._get_s3_client(resource_runtime_part, state_credentials)
    parameters = env.stack.pop()
    pages = s3.get_paginator("list_objects_v2").paginate(**parameters)
    env.stack.append([page["Contents"] for page in pages if page.get("Contents")])


def _write_results(env: Any, resource_runtime_part: Any, state_credentials: Any) -> None:
    parameters = env.stack.pop()
    outputs = env.stack.pop()
    s3 = result_writer_s3.ResourceEvalS3._get_s3_client(resource_runtime_part, state_credentials)
    map_run_arn = env.map_run_record_pool_manager.get_all().pop().map_run_arn
    folder = f"{parameters['Prefix'].rstrip('/')}/{map_run_arn.split(':')[-1]}/"
    succeeded = [output for output in outputs if output is not None]
    files = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
    if succeeded:
        body = "".join(json.dumps(output) + "\n" for output in succeeded).encode()
        s3.put_object(Bucket=parameters["Bucket"], Key=f"{folder}SUCCEEDED_0.json", Body=body)
        files["SUCCEEDED"].append({"Key": f"{folder}SUCCEEDED_0.json", "Size": len(body)})
    manifest = {"DestinationBucket": parameters["Bucket"], "MapRunArn": map_run_arn, "ResultFiles": files}
    s3.put_object(
        Bucket=parameters["Bucket"], Key=f"{folder}manifest.json", Body=json.dumps(manifest).encode()
    )
    details = {"Bucket": parameters["Bucket"], "Key": f"{folder}manifest.json"}
    env.stack.append({"MapRunArn": map_run_arn, "ResultWriterDetails": details})


@contextmanager
def emulator_gaps_filled() -> Iterator[None]:
    """moto's ItemReader and ResultWriter behaving as Step Functions' do (gaps 3 and 4 above)."""
    reader, writer = item_reader_s3.ResourceEvalS3, result_writer_s3.ResourceEvalS3
    saved = reader._handle_list_objects_v2, writer._handle_put_object
    reader._handle_list_objects_v2 = staticmethod(_list_batches)
    writer._handle_put_object = staticmethod(_write_results)
    try:
        yield
    finally:
        reader._handle_list_objects_v2, writer._handle_put_object = (
            staticmethod(saved[0]),
            staticmethod(saved[1]),
        )


def wait_for_execution(sfn: Any, execution_arn: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING" or time.monotonic() > deadline:
            return described
        time.sleep(0.05)
