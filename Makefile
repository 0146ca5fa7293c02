# Every target installs what it needs first: on a fresh clone `make synth` and `make test` just work.
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CDK := npx --no-install cdk
# Extra CDK CLI arguments, e.g. make synth CDK_ARGS="-c results_table=false"
CDK_ARGS ?=
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: install synth test lint snapshot-update bootstrap deploy destroy integ ci-role bench lock clean

# The bundled function's integration tests run on Lambda's Python (3.14) when this machine has it,
# else on the newest of 3.13 and 3.12 it has (README: Python versions); empty: the venv's own.
RUNTIME_PYTHON ?= $(firstword $(foreach v,3.14 3.13 3.12,\
	$(wildcard /usr/bin/python$(v) /usr/local/bin/python$(v) $(HOME)/.pyenv/versions/$(v)*/bin/python$(v))))
RUNTIME_VENV := $(VENV)/runtime

PIP_INSTALL = pip install --quiet --disable-pip-version-check

$(STAMP): requirements.txt requirements-dev.txt constraints.txt lambda/requirements.txt lambda/watchlist/requirements.txt pyproject.toml package.json package-lock.json
	python3 -m venv $(VENV)
	@# constraints.txt pins what the requirements pull in, so a fresh clone gets what CI tested.
	$(BIN)/$(PIP_INSTALL) -r requirements-dev.txt -c constraints.txt
	$(BIN)/$(PIP_INSTALL) --no-deps -e .
	@# What Lambda's runtime provides to the function (boto3), at the version the tests pin.
	if [ -n "$(RUNTIME_PYTHON)" ]; then $(RUNTIME_PYTHON) -m venv $(RUNTIME_VENV) && \
		$(RUNTIME_VENV)/bin/$(PIP_INSTALL) $$(grep '^boto3==' requirements-dev.txt) -c constraints.txt; fi
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(STAMP)

synth: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(CDK) synth $(CDK_ARGS)

lint: install
	$(BIN)/ruff check .

# pytest runs on every core (pyproject.toml: pytest-xdist).
test: lint
	$(BIN)/pytest

snapshot-update: install
	$(BIN)/pytest tests/infra tests/integ --snapshot-update

bootstrap: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(CDK) bootstrap $(CDK_ARGS)

# After the deploy, `celeb check --fix` makes sure the images bucket publishes to EventBridge: a stack
# moved from S3 notifications loses that in the update (README). With -c stack_name=X, pass CELEB_STACK=X.
deploy: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(CDK) deploy $(CDK_ARGS)
	$(BIN)/celeb check --fix

destroy: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(CDK) destroy $(CDK_ARGS)

# The deployed integration test (tests/integ/integ_recognition.py; README: Integration tests): deploys
# the dev stack and the assertions' stack into the account and region of your AWS credentials, where
# a failed assertion fails the deploy, then destroys both whatever happened. The pinned CDK CLI runs
# it: integ-runner cannot read this aws-cdk-lib's cloud assemblies yet (schema 55; it reads up to 53).
# CDK_ARGS reach both commands, e.g. a custom bootstrap (the CI role's bootstrap_qualifier):
# make integ CDK_ARGS="-c @aws-cdk/core:bootstrapQualifier=Q"
INTEG_CDK = --app "python3 tests/integ/integ_recognition.py" --output cdk.out.integ $(CDK_ARGS)
integ: install
	export PATH="$(CURDIR)/$(BIN):$$PATH" PYTHONPATH="$(CURDIR)"; \
	$(CDK) deploy $(INTEG_CDK) --all --require-approval never; deployed=$$?; \
	$(CDK) destroy $(INTEG_CDK) --all --force; destroyed=$$?; \
	test $$deployed -eq 0 && test $$destroyed -eq 0

# The role GitHub Actions assumes for `make integ` (stacks/ci_oidc.py; README: Continuous integration):
# make ci-role CDK_ARGS="-c github_repository=OWNER/REPO"
ci-role: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(CDK) deploy --app "python3 -m stacks.ci_oidc_app" --output cdk.out.ci $(CDK_ARGS)

bench: install
	$(BIN)/python -m bench --write

# Re-resolve the requirements to the newest versions they allow and pin the result in constraints.txt
# (its header says what to check after). In a scratch venv: .venv keeps what it has until `make install`.
LOCK_VENV := $(VENV).lock
lock:
	rm -rf $(LOCK_VENV) && python3 -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/$(PIP_INSTALL) -r requirements-dev.txt
	{ sed -n '/^#/p' constraints.txt; $(LOCK_VENV)/bin/pip freeze --exclude-editable; } > constraints.txt.new
	mv constraints.txt.new constraints.txt && rm -rf $(LOCK_VENV)

clean:
	rm -rf $(VENV) node_modules cdk.out .pytest_cache .hypothesis
