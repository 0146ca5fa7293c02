# Every target installs what it needs first: on a fresh clone `make synth` and `make test` just work.
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CDK := npx --no-install cdk
# Extra CDK CLI arguments, e.g. make synth CDK_ARGS="-c results_table=false"
CDK_ARGS ?=
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: install synth test lint snapshot-update bootstrap deploy destroy bench clean

$(STAMP): requirements.txt requirements-dev.txt lambda/requirements.txt pyproject.toml package.json package-lock.json
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(STAMP)

synth: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(CDK) synth $(CDK_ARGS)

lint: install
	$(BIN)/ruff check .

test: lint
	$(BIN)/pytest

snapshot-update: install
	$(BIN)/pytest tests/infra --snapshot-update

bootstrap: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(CDK) bootstrap $(CDK_ARGS)

deploy: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(CDK) deploy $(CDK_ARGS)

destroy: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(CDK) destroy $(CDK_ARGS)

bench: install
	$(BIN)/python -m bench --write

clean:
	rm -rf $(VENV) node_modules cdk.out .pytest_cache .hypothesis
