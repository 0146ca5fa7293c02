"""Entry point of the CI role's app: `make ci-role CDK_ARGS="-c github_repository=OWNER/REPO"`.

`cdk --app "python3 -m stacks.ci_oidc_app" deploy` runs it; it prints one line on bad context.
"""

from __future__ import annotations

import os
import sys

import aws_cdk as cdk

from stacks.app import base_context
from stacks.ci_oidc import CiDeployRoleStack, load_ci_config
from stacks.compliance import add_compliance_checks
from stacks.config import ConfigError


def create_ci_app(context: dict | None = None, outdir: str | None = None) -> cdk.App:
    """Raises ConfigError (before any construct exists) when a setting is bad."""
    app = cdk.App(context={**base_context(), **(context or {})}, outdir=outdir)
    config = load_ci_config(app.node.get_all_context())
    add_compliance_checks(app)
    CiDeployRoleStack(
        app,
        config.stack_name,
        config=config,
        # The bootstrap roles it may assume are this account's and region's: the CLI's.
        env=cdk.Environment(
            account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION")
        ),
        description="GitHub Actions OIDC deploy role for the celebrity recognition integration test",
    )
    return app


def main() -> None:
    try:
        app = create_ci_app()
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
    app.synth()


if __name__ == "__main__":
    main()
