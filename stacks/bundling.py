"""Docker-free bundling of the function: pip installs the pinned packages for the Lambda platform.

CDK tries `LocalPipBundling.try_bundle` first; only when it returns False (no pip here, a package
without a wheel for the target) does CDK fall back to the Docker command, which produces the
same layout. The asset hash is taken from the source, so both paths give the same hash.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, ILocalBundling
from aws_cdk import aws_lambda as lambda_

# Never shipped: bytecode is rebuilt by the runtime, tests and caches are not code.
EXCLUDE = ["__pycache__", "*.pyc", ".pytest_cache", "tests"]


def _is_arm(architecture: lambda_.Architecture) -> bool:
    return architecture.name == lambda_.Architecture.ARM_64.name


def _pip_platform(architecture: lambda_.Architecture) -> str:
    return f"manylinux2014_{'aarch64' if _is_arm(architecture) else 'x86_64'}"


def _python_version(runtime: lambda_.Runtime) -> str:
    # "python3.14" -> "3.14"
    return runtime.name.removeprefix("python")


@jsii.implements(ILocalBundling)
class LocalPipBundling:
    def __init__(self, source: Path, runtime: lambda_.Runtime, architecture: lambda_.Architecture) -> None:
        self._source = source
        self._platform = _pip_platform(architecture)
        self._python_version = _python_version(runtime)

    def pip_command(self, output_dir: str) -> list[str]:
        return [
            sys.executable, "-m", "pip", "install",
            "--requirement", str(self._source / "requirements.txt"),
            "--target", output_dir,
            # Wheels built for Lambda's OS, CPU and Python, whatever this machine is.
            "--platform", self._platform,
            "--python-version", self._python_version,
            "--implementation", "cp",
            "--only-binary=:all:",
            "--no-compile",
            "--disable-pip-version-check",
            "--quiet",
        ]  # fmt: skip

    def try_bundle(self, output_dir: str, options: Any = None) -> bool:
        try:
            subprocess.run(self.pip_command(output_dir), check=True, capture_output=True, text=True)
        except (OSError, subprocess.CalledProcessError) as error:
            detail = getattr(error, "stderr", "") or str(error)
            print(f"local bundling failed, falling back to Docker: {detail.strip()}", file=sys.stderr)
            return False
        shutil.copytree(self._source, output_dir, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*EXCLUDE))
        return True


def function_code(source: Path, runtime: lambda_.Runtime, architecture: lambda_.Architecture) -> lambda_.Code:
    """The function's code asset: `source` plus the packages pinned in its requirements.txt."""
    return lambda_.Code.from_asset(
        str(source),
        exclude=EXCLUDE,
        asset_hash_type=AssetHashType.SOURCE,
        bundling=BundlingOptions(
            image=runtime.bundling_image,
            platform=f"linux/{'arm64' if _is_arm(architecture) else 'amd64'}",
            command=[
                "bash", "-c",
                "pip install --no-compile -r requirements.txt -t /asset-output && cp -au . /asset-output",
            ],
            local=LocalPipBundling(source, runtime, architecture),
        ),
    )  # fmt: skip
