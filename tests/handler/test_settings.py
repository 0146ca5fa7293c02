"""Environment parsing: defaults, accepted values and named errors for bad ones."""

from __future__ import annotations

import pytest
from recognizer.errors import ConfigurationError
from recognizer.settings import Settings, load_settings


def test_defaults_when_absent_or_empty() -> None:
    assert load_settings({}) == Settings(None, 0.0, "standard", 5, "INFO")
    empty = dict.fromkeys(
        (
            "RESULTS_TABLE_NAME",
            "MIN_CONFIDENCE",
            "REKOGNITION_RETRY_MODE",
            "REKOGNITION_MAX_ATTEMPTS",
            "LOG_LEVEL",
        ),
        "",
    )
    assert load_settings(empty) == Settings()


def test_values_are_parsed() -> None:
    settings = load_settings(
        {
            "RESULTS_TABLE_NAME": "results",
            "MIN_CONFIDENCE": "92.5",
            "REKOGNITION_RETRY_MODE": "Adaptive",
            "REKOGNITION_MAX_ATTEMPTS": "3",
            "LOG_LEVEL": "debug",
        }
    )
    assert settings == Settings("results", 92.5, "adaptive", 3, "DEBUG")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("MIN_CONFIDENCE", "abc", "MIN_CONFIDENCE='abc' is not a number between 0 and 100"),
        ("MIN_CONFIDENCE", "101", "MIN_CONFIDENCE='101' is not a number between 0 and 100"),
        ("MIN_CONFIDENCE", "-1", "MIN_CONFIDENCE='-1' is not a number between 0 and 100"),
        ("MIN_CONFIDENCE", "nan", "MIN_CONFIDENCE='nan' is not a number between 0 and 100"),
        (
            "REKOGNITION_RETRY_MODE",
            "legacy",
            "REKOGNITION_RETRY_MODE='legacy' is not one of standard, adaptive",
        ),
        (
            "REKOGNITION_MAX_ATTEMPTS",
            "0",
            "REKOGNITION_MAX_ATTEMPTS='0' is not a whole number between 1 and 20",
        ),
        ("REKOGNITION_MAX_ATTEMPTS", "2.5", "REKOGNITION_MAX_ATTEMPTS='2.5' is not a whole number"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL='LOUD' is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
    ],
)
def test_bad_values_raise_configuration_error(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        load_settings({name: value})
    assert message in str(raised.value)
