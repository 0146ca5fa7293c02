#!/usr/bin/env python3
"""Entry point for `cdk synth` / `cdk deploy`: builds the app, or prints one line on bad config."""

import os
import sys

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from stacks.app import create_app
from stacks.config import ConfigError


def main() -> None:
    try:
        app = create_app()
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
    app.synth()


if __name__ == "__main__":
    main()
