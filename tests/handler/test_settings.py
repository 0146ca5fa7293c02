"""The function's environment: the contract's settings, parsed with the contract's bounds."""

from __future__ import annotations

import pytest

from recognizer.contract import ENV_RESULTS_TABLE, FUNCTION_SETTINGS, SETTINGS, SETTINGS_BY_KEY
from recognizer.errors import ConfigurationError
from recognizer.settings import Settings, load_settings


def test_settings_has_one_field_per_function_setting_and_the_table() -> None:
    assert set(Settings._fields) == {s.key for s in SETTINGS if s.env} | {"results_table_name"}
    assert {s.key for s in FUNCTION_SETTINGS} == {s.key for s in SETTINGS if s.env}


def test_defaults_are_the_contracts() -> None:
    defaults = {s.key: s.default for s in FUNCTION_SETTINGS}
    assert load_settings({}) == Settings(results_table_name=None, **defaults) == Settings()
    empty = dict.fromkeys([ENV_RESULTS_TABLE, *(s.env for s in FUNCTION_SETTINGS if s.env)], "  ")
    assert load_settings(empty) == Settings()


def test_values_are_parsed() -> None:
    settings = load_settings(
        {
            "RESULTS_TABLE_NAME": "results",
            "MIN_CONFIDENCE": "92.5",
            "REKOGNITION_RETRY_MODE": "Adaptive",
            "REKOGNITION_MAX_ATTEMPTS": "3",
            "DEDUP": "False",
        }
    )
    assert settings == Settings("results", 92.5, "adaptive", 3, dedup=False)
    assert load_settings({"DEDUP": "TRUE"}).dedup is True


def test_the_process_environment_is_the_default_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REKOGNITION_MAX_ATTEMPTS", "7")
    assert load_settings().rekognition_max_attempts == 7
    assert load_settings({}).rekognition_max_attempts == SETTINGS_BY_KEY["rekognition_max_attempts"].default


def _bounded() -> list[tuple[str, str, str]]:
    """(variable, accepted value, refused value) at both bounds of every numeric function setting."""
    cases = []
    for setting in FUNCTION_SETTINGS:
        if setting.kind not in ("int", "number") or setting.choices:
            continue
        assert setting.env and setting.low is not None and setting.high is not None
        step = 1 if setting.kind == "int" else 0.5
        cases += [
            (setting.env, setting.to_env(setting.high), setting.to_env(setting.high + step)),
            (setting.env, setting.to_env(setting.low), setting.to_env(setting.low - step)),
        ]
    return cases


@pytest.mark.parametrize(("name", "accepted", "refused"), _bounded())
def test_bounds_are_the_contracts(name: str, accepted: str, refused: str) -> None:
    load_settings({name: accepted})
    with pytest.raises(ConfigurationError, match=f"{name}='{refused}' is not"):
        load_settings({name: refused})


def test_rekognition_attempts_are_1_to_10_as_at_synthesis() -> None:
    assert load_settings({"REKOGNITION_MAX_ATTEMPTS": "10"}).rekognition_max_attempts == 10
    with pytest.raises(ConfigurationError) as raised:
        load_settings({"REKOGNITION_MAX_ATTEMPTS": "11"})
    assert str(raised.value) == "REKOGNITION_MAX_ATTEMPTS='11' is not a whole number from 1 to 10"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("MIN_CONFIDENCE", "abc", "MIN_CONFIDENCE='abc' is not a number from 0 to 100"),
        ("MIN_CONFIDENCE", "nan", "MIN_CONFIDENCE='nan' is not a number from 0 to 100"),
        ("DEDUP", "0", "DEDUP='0' is not true or false"),
        (
            "REKOGNITION_RETRY_MODE",
            "legacy",
            "REKOGNITION_RETRY_MODE='legacy' is not one of standard, adaptive",
        ),
        (
            "REKOGNITION_MAX_ATTEMPTS",
            "2.5",
            "REKOGNITION_MAX_ATTEMPTS='2.5' is not a whole number from 1 to 10",
        ),
    ],
)
def test_bad_values_raise_configuration_error(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        load_settings({name: value})
    assert str(raised.value) == message


def test_the_log_level_is_not_the_functions_to_read() -> None:
    # Lambda applies the application log level itself (JSON log format): no variable for it.
    assert SETTINGS_BY_KEY["log_level"].env is None
    assert load_settings({"LOG_LEVEL": "LOUD"}) == Settings()
