"""Configuration: defaults come from cdk.json, and every bad value stops synthesis with one clear line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import aws_cdk
import pytest

from stacks.app import base_context, create_app
from stacks.config import ConfigError, PipelineConfig, load_config

ROOT = Path(__file__).resolve().parents[2]


def test_cdk_json_holds_a_default_for_every_setting() -> None:
    config = load_config(base_context())
    assert config == PipelineConfig(
        stack_name="CelebrityRecognition",
        env="prod",
        results_table=True,
        memory_size=256,
        timeout_seconds=60,
        log_retention_days=30,
        tracing=True,
        min_confidence=0,
        rekognition_retry_mode="standard",
        rekognition_max_attempts=5,
        noncurrent_version_expiration_days=30,
        upload_prefix="",
        batch_size=10,
        max_batching_window_seconds=1,
        max_concurrency=5,
        max_receive_count=3,
        oldest_message_alarm_seconds=600,
        alarm_email="",
    )


def test_cdk_json_carries_every_recommended_feature_flag_of_the_pinned_library() -> None:
    # The flags `cdk init` would write for this aws-cdk-lib, read from the library's own package.
    tarball = next((Path(aws_cdk.__file__).parent / "_jsii").glob("aws-cdk-lib@*.jsii.tgz"))
    with tarfile.open(tarball) as archive:
        member = archive.extractfile("package/recommended-feature-flags.json")
        assert member is not None
        recommended = json.load(member)
    context = base_context()
    assert len(recommended) > 50
    assert {k: context.get(k) for k in recommended} == recommended


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("false", False), ("TRUE", True), (True, True), (False, False)],
)
def test_booleans_accept_json_and_cli_spellings(value: object, expected: bool) -> None:
    assert load_config({**base_context(), "results_table": value}).results_table is expected


def test_cli_strings_are_parsed_to_numbers() -> None:
    config = load_config({**base_context(), "memory_size": "1024", "min_confidence": "87.5"})
    assert (config.memory_size, config.min_confidence) == (1024, 87.5)


BAD_VALUES = [
    ("results_table", "maybe", "true or false"),
    ("env", "staging", "one of prod, dev"),
    ("memory_size", "-256", "a whole number from 128 to 10240"),
    ("memory_size", "lots", "a whole number from 128 to 10240"),
    ("timeout_seconds", 901, "a whole number from 1 to 900"),
    ("log_retention_days", 31, "a CloudWatch Logs retention in days"),
    ("min_confidence", "101", "a number from 0 to 100"),
    ("min_confidence", "nan", "a number from 0 to 100"),
    ("rekognition_retry_mode", "legacy", "one of standard, adaptive"),
    ("max_concurrency", 1, "a whole number from 2 to 1000"),
    ("upload_prefix", "photos/*?", "an S3 key prefix"),
    ("alarm_email", "not-an-email", "an email address"),
    ("stack_name", "1-bad", "a CloudFormation stack name"),
]


@pytest.mark.parametrize(("key", "value", "allowed"), BAD_VALUES)
def test_bad_value_names_key_value_and_what_is_allowed(key: str, value: object, allowed: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config({**base_context(), key: value})
    message = str(raised.value)
    assert message.startswith(f"context key '{key}' has value {value!r}: expected ")
    assert allowed in message


def test_a_typo_of_a_known_key_is_rejected_with_a_suggestion() -> None:
    with pytest.raises(ConfigError, match=r"context key 'result_table' .*did you mean 'results_table'\?"):
        load_config({**base_context(), "result_table": "false"})


def test_unrelated_and_cdk_owned_keys_are_not_typos() -> None:
    load_config({**base_context(), "@aws-cdk/core:newStyleStackSynthesis": True, "team": "vision"})


def test_batch_over_ten_needs_a_batching_window() -> None:
    with pytest.raises(ConfigError, match="batch_size"):
        load_config({**base_context(), "batch_size": 50, "max_batching_window_seconds": 0})


def test_bad_config_fails_before_any_construct_is_built() -> None:
    with pytest.raises(ConfigError, match="env"):
        create_app({"env": "qa"})


def test_app_py_prints_one_line_and_exits_non_zero_on_bad_config() -> None:
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps({"results_table": "maybe"})}
    done = subprocess.run(
        [sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "error: context key 'results_table' has value 'maybe': expected true or false"
    ]
