"""Configuration: defaults and bounds come from the contract; a bad value stops synthesis with one line."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import aws_cdk
import pytest

from recognizer.contract import SETTINGS, SETTINGS_BY_KEY
from recognizer.errors import ConfigurationError
from recognizer.settings import Settings, load_settings
from stacks.app import base_context, create_app
from stacks.config import AppConfig, ConfigError, load_config, retention

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_are_the_contracts() -> None:
    config = load_config(base_context())
    assert config == AppConfig(
        stack_name="CelebrityRecognition",
        deployment="prod",
        results_table=True,
        dedup=True,
        memory_size=256,
        timeout_seconds=60,
        log_retention_days=30,
        log_level="INFO",
        tracing=True,
        min_confidence=0,
        rekognition_retry_mode="standard",
        rekognition_max_attempts=5,
        noncurrent_version_expiration_days=30,
        upload_prefix="",
        event_archive_days=7,
        batch_size=10,
        max_batching_window_seconds=1,
        max_concurrency=5,
        max_receive_count=3,
        oldest_message_alarm_seconds=600,
        alarm_email="",
    )
    assert {key: getattr(config, key) for key in SETTINGS_BY_KEY} == {s.key: s.default for s in SETTINGS}


def test_cdk_json_holds_no_setting_of_ours() -> None:
    # A default written in cdk.json as well would be a second definition that can drift.
    assert not set(base_context()) & set(SETTINGS_BY_KEY)


def test_every_allowed_log_retention_has_a_cloudwatch_value() -> None:
    for days in SETTINGS_BY_KEY["log_retention_days"].choices:
        assert retention(days).name


def test_the_stack_and_the_function_accept_the_same_values() -> None:
    # The function's environment, as the stack writes it, parses back to the same values there.
    config = load_config({**base_context(), "min_confidence": "87.5", "rekognition_max_attempts": "10",
                          "rekognition_retry_mode": "adaptive"})  # fmt: skip
    settings = load_settings(config.function_environment())
    assert settings == Settings(None, 87.5, "adaptive", 10)
    without_dedup = load_config({**base_context(), "dedup": "false"}).function_environment()
    assert load_settings(without_dedup) == Settings(dedup=False)
    function_keys = {s.key for s in SETTINGS if s.env}
    assert function_keys == set(Settings._fields) - {"results_table_name"}


def test_bounds_are_the_same_at_synthesis_and_in_the_function() -> None:
    with pytest.raises(ConfigError, match="from 1 to 10"):
        load_config({**base_context(), "rekognition_max_attempts": 11})
    with pytest.raises(ConfigurationError, match="from 1 to 10"):
        load_settings({"REKOGNITION_MAX_ATTEMPTS": "11"})


def _spelled(default: object) -> str:
    """A default as the README's configuration table writes it."""
    if isinstance(default, bool):
        return str(default).lower()
    if isinstance(default, float):
        return f"{default:g}"
    return str(default) if default != "" else '""'


def test_readme_configuration_table_lists_every_setting_with_its_default() -> None:
    readme = (ROOT / "README.md").read_text()
    rows = dict(re.findall(r"^\| `(\w+)` \| `([^`]*)` \|", readme, flags=re.MULTILINE))
    assert rows == {setting.key: _spelled(setting.default) for setting in SETTINGS}


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
    ("dedup", "sometimes", "true or false"),
    ("deployment", "staging", "one of prod, dev"),
    ("log_level", "verbose", "one of DEBUG, INFO, WARN, ERROR"),
    ("event_archive_days", -1, "a whole number from 0 to 3650"),
    ("memory_size", "-256", "a whole number from 128 to 10240"),
    ("memory_size", "lots", "a whole number from 128 to 10240"),
    ("timeout_seconds", 901, "a whole number from 1 to 900"),
    ("log_retention_days", 31, "one of 1, 3, 5, 7, 14, 30"),
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
    with pytest.raises(ConfigError, match="deployment"):
        create_app({"deployment": "qa"})


def test_a_renamed_key_names_its_new_name() -> None:
    # `env` sat beside CDK's own `env=`; its old spelling still answers, with the new key.
    renamed = r"context key 'env' has value 'dev': expected the new key 'deployment'"
    with pytest.raises(ConfigError, match=renamed):
        load_config({**base_context(), "env": "dev"})


def test_app_py_prints_one_line_and_exits_non_zero_on_bad_config() -> None:
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps({"results_table": "maybe"})}
    done = subprocess.run(
        [sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "error: context key 'results_table' has value 'maybe': expected true or false"
    ]
