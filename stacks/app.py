"""Builds the CDK app: cdk.json's feature flags as the base, so tests, `python app.py` and the CLI agree."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import aws_cdk as cdk

from stacks.compliance import add_compliance_checks
from stacks.config import load_config
from stacks.recognition_stack import CelebrityRecognitionStack

CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"


def base_context() -> dict[str, Any]:
    return json.loads(CDK_JSON.read_text())["context"]


def create_app(context: dict[str, Any] | None = None, outdir: str | None = None) -> cdk.App:
    """Raises ConfigError (before any construct exists) when a setting is bad."""
    # `-c` values from the CLI arrive through CDK_CONTEXT_JSON and override these.
    app = cdk.App(context={**base_context(), **(context or {})}, outdir=outdir)
    config = load_config(app.node.get_all_context())
    # Before the stack: cdk-nag validates the whole tree at synthesis and fails it on any finding.
    add_compliance_checks(app)
    CelebrityRecognitionStack(
        app,
        config.stack_name,
        config=config,
        # Environment-agnostic unless the CLI knows the account and region (no hard-coded values).
        env=cdk.Environment(
            account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION")
        ),
        description="Celebrity recognition pipeline: S3 uploads, Lambda, Amazon Rekognition, DynamoDB",
    )
    return app
