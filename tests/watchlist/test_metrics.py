"""The watchlist function's CloudWatch metrics: EMF members of its one line per searched image,
validated with the specification's schema the celebrity function's metrics are checked with."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from recognizer import metrics
from recognizer.contract import (
    METRIC_FUNCTION_DIMENSION,
    SETTINGS_BY_KEY,
    ImageRef,
    WatchlistMetricName,
)
from stacks.watchlist import INCLUDE
from tests.handler.recognizer_testkit import as_lambda_json
from tests.handler.test_metrics import assert_emf, directives_by_metric, unit_of
from tests.watchlist.conftest import BUCKET, LAMBDA_DIR, World
from tests.watchlist.face_collection import photo
from tests.watchlist.watchlist_testkit import enroll
from watchlist import handler
from watchlist.settings import WatchlistConfigurationError, load_watchlist_settings

FUNCTION = "CelebrityRecognition-WatchlistFunction-AbC123"
NAMESPACE_ENV = str(SETTINGS_BY_KEY["metrics_namespace"].env)


def _searched_line(caplog: pytest.LogCaptureFixture) -> dict[str, object]:
    [record] = [
        r for r in caplog.records if r.name == handler.logger.name and r.getMessage() == "watchlist: searched"
    ]
    return as_lambda_json(record)


def test_a_searched_image_publishes_faces_matches_and_latency_per_function(
    world: World, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(metrics.FUNCTION_NAME_ENV, FUNCTION)
    enroll(world.collection, "alice", "red")
    faces = [("red", (100, 100, 220, 240)), ("green", (400, 120, 520, 260)), ("blue", (600, 300, 620, 320))]
    version = world.upload("one.jpg", photo(800, 600, faces))
    settings = world.settings._replace(metrics_namespace="Team/Celebs")
    with caplog.at_level(logging.INFO, logger=handler.logger.name):
        handler.process(ImageRef(BUCKET, "one.jpg", version), settings)
    line = _searched_line(caplog)

    values = assert_emf(line)
    latency = values.pop(WatchlistMetricName.WATCHLIST_SEARCH_LATENCY)
    assert values == {"FacesSearched": 2, "FacesTooSmall": 1, "WatchlistMatches": 1}
    assert isinstance(latency, list) and len(latency) == 2 and all(ms >= 0 for ms in latency)
    assert {name: unit_of(line, name) for name in WatchlistMetricName} == {
        "FacesSearched": "Count",
        "FacesTooSmall": "Count",
        "WatchlistMatches": "Count",
        "WatchlistSearchLatency": "Milliseconds",
    }
    # The function's name is the only dimension; the namespace is the stack's setting.
    assert set(map(str, directives_by_metric(line))) == {str(name) for name in WatchlistMetricName}
    assert all(sets == [[METRIC_FUNCTION_DIMENSION]] for sets in directives_by_metric(line).values())
    assert line[METRIC_FUNCTION_DIMENSION] == FUNCTION
    assert {d["Namespace"] for d in line["_aws"]["CloudWatchMetrics"]} == {"Team/Celebs"}  # type: ignore[index]
    # Names stay out of the line: a count, never who was seen.
    assert "alice" not in json.dumps(line)


def test_an_image_without_faces_publishes_zeros_and_no_latency(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    version = world.upload("empty.jpg", photo(400, 300, []))
    with caplog.at_level(logging.INFO, logger=handler.logger.name):
        handler.process(ImageRef(BUCKET, "empty.jpg", version), world.settings)
    line = _searched_line(caplog)
    assert assert_emf(line) == {"FacesSearched": 0, "FacesTooSmall": 0, "WatchlistMatches": 0}
    assert line[METRIC_FUNCTION_DIMENSION] == metrics.LOCAL_FUNCTION_NAME
    assert {d["Namespace"] for d in line["_aws"]["CloudWatchMetrics"]} == {  # type: ignore[index]
        SETTINGS_BY_KEY["metrics_namespace"].default
    }


def test_the_namespace_comes_from_the_celebrity_functions_variable() -> None:
    base = {"WATCHLIST_COLLECTION_ID": "c", "RESULTS_TABLE_NAME": "t"}
    assert load_watchlist_settings(base).metrics_namespace == SETTINGS_BY_KEY["metrics_namespace"].default
    assert load_watchlist_settings(base | {NAMESPACE_ENV: "Team/Celebs"}).metrics_namespace == "Team/Celebs"
    with pytest.raises(
        WatchlistConfigurationError, match=f"{NAMESPACE_ENV}='AWS/Lambda' is not a CloudWatch"
    ):
        load_watchlist_settings(base | {NAMESPACE_ENV: "AWS/Lambda"})


def test_the_package_holds_every_recognizer_module_the_function_imports() -> None:
    """The watchlist function's package (stacks/watchlist.py INCLUDE) lacks nothing it imports."""
    probe = (
        "import sys, json; import watchlist.handler; "
        "print(json.dumps(sorted(m.__file__ for n, m in sys.modules.items() "
        "if n.split('.')[0] in ('recognizer', 'watchlist') and getattr(m, '__file__', None))))"
    )
    env = {**os.environ, "PYTHONPATH": str(LAMBDA_DIR)}
    answer = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    imported = {Path(path).resolve().relative_to(LAMBDA_DIR).as_posix() for path in json.loads(answer.stdout)}
    missing = {
        path
        for path in imported
        if not any(path == entry or path.startswith(entry + "/") for entry in INCLUDE)
    }
    assert not missing, (
        f"the watchlist package lacks {sorted(missing)} (add them to stacks/watchlist.py INCLUDE)"
    )
