"""The pinned CDK CLI (package.json) can deploy what the pinned library (constraints.txt) synthesizes.

aws-cdk-lib writes the lowest CLI version that reads its cloud assembly into manifest.json; that
number comes from aws-cdk.cloud-assembly-schema, a dependency that only constraints.txt pins.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def release(version: str) -> tuple[int, ...]:
    match = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", version)
    assert match, f"{version!r}: expected an exact MAJOR.MINOR.PATCH version"
    return tuple(int(part) for part in match.groups())


def test_pinned_cli_reads_the_cloud_assembly(bundled_assembly: Path) -> None:
    wanted = json.loads((bundled_assembly / "manifest.json").read_text())["minimumCliVersion"]
    pinned = json.loads((ROOT / "package.json").read_text())["devDependencies"]["aws-cdk"]
    assert release(pinned) >= release(wanted), (
        f"the cloud assembly asks for CDK CLI {wanted} or later, package.json pins {pinned}: pin "
        "aws-cdk.cloud-assembly-schema lower in constraints.txt, or the CLI higher (npm install "
        f"--save-exact aws-cdk@{wanted})"
    )
