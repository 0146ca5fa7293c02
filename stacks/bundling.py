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


def _pip_platform_glibc_2_28(architecture: lambda_.Architecture) -> str:
    # The Python 3.12+ runtimes run on Amazon Linux 2023 (glibc 2.34): wheels built for glibc 2.28
    # run there too, and some packages (Pillow 13) publish arm64 wheels only with that tag.
    return f"manylinux_2_28_{'aarch64' if _is_arm(architecture) else 'x86_64'}"


def _python_version(runtime: lambda_.Runtime) -> str:
    # "python3.14" -> "3.14"
    return runtime.name.removeprefix("python")


@jsii.implements(ILocalBundling)
class LocalPipBundling:
    """`include`: the paths under `source` that make the package (None: all of it but `exclude`)."""

    def __init__(
        self,
        source: Path,
        runtime: lambda_.Runtime,
        architecture: lambda_.Architecture,
        *,
        requirements: str = "requirements.txt",
        include: tuple[str, ...] | None = None,
        exclude: tuple[str, ...] = (),
    ) -> None:
        self._source = source
        self._platform = _pip_platform(architecture)
        self._platform_2_28 = _pip_platform_glibc_2_28(architecture)
        self._python_version = _python_version(runtime)
        self._requirements = requirements
        self._include = include
        self._ignore = shutil.ignore_patterns(*EXCLUDE, *exclude)

    def pip_command(self, output_dir: str) -> list[str]:
        return [
            sys.executable, "-m", "pip", "install",
            "--requirement", str(self._source / self._requirements),
            "--target", output_dir,
            # Wheels built for Lambda's OS, CPU and Python, whatever this machine is.
            "--platform", self._platform,
            "--platform", self._platform_2_28,
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
        if self._include is None:
            shutil.copytree(self._source, output_dir, dirs_exist_ok=True, ignore=self._ignore)
            return True
        for relative in self._include:
            path, target = self._source / relative, Path(output_dir) / relative
            if path.is_dir():
                shutil.copytree(path, target, dirs_exist_ok=True, ignore=self._ignore)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
        return True


def function_code(
    source: Path,
    runtime: lambda_.Runtime,
    architecture: lambda_.Architecture,
    *,
    requirements: str = "requirements.txt",
    include: tuple[str, ...] | None = None,
    exclude: tuple[str, ...] = (),
) -> lambda_.Code:
    """The function's code asset: `source` (or only its `include` paths) plus the packages pinned in
    `requirements`. The asset hash covers `source` less `exclude`: a superset of `include` at worst,
    which rebuilds an asset too often but never too rarely."""
    copy = "cp -au --parents " + " ".join(include) if include is not None else "cp -au ."
    return lambda_.Code.from_asset(
        str(source),
        exclude=[*EXCLUDE, *exclude],
        asset_hash_type=AssetHashType.SOURCE,
        bundling=BundlingOptions(
            image=runtime.bundling_image,
            platform=f"linux/{'arm64' if _is_arm(architecture) else 'amd64'}",
            command=[
                "bash", "-c",
                f"pip install --no-compile -r {requirements} -t /asset-output && {copy} /asset-output",
            ],
            local=LocalPipBundling(
                source, runtime, architecture, requirements=requirements, include=include, exclude=exclude
            ),
        ),
    )  # fmt: skip
