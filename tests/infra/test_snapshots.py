"""Whole-template snapshots per variant: they catch what no fine-grained test thought to ask about.

Update after an intended change with: make snapshot-update
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from tests.conftest import VARIANTS

# Asset hashes change with every handler edit; the snapshot is about the infrastructure.
_ASSET_HASH = re.compile(r"\b[0-9a-f]{64}\b")


def normalized(template: dict[str, Any]) -> dict[str, Any]:
    return json.loads(_ASSET_HASH.sub("<asset-hash>", json.dumps(template)))


def test_normalization_hides_only_asset_hashes(synth_template: Any) -> None:
    template = synth_template()
    [code] = [
        r["Properties"]["Code"] for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and "S3Key" in r["Properties"]["Code"]
    ]  # fmt: skip
    assert re.fullmatch(r"[0-9a-f]{64}\.zip", code["S3Key"])
    normal = normalized(template)
    assert "<asset-hash>.zip" in json.dumps(normal)
    assert normal["Resources"].keys() == template["Resources"].keys()


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_template_snapshot(synth_template: Any, snapshot: Any, variant: str) -> None:
    template = synth_template(**VARIANTS[variant])
    assert normalized(template) == snapshot.use_extension(JSONSnapshotExtension)
