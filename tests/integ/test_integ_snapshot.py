"""The deployed integration test's app, offline (no credentials, one synthesis without bundling).

It synthesizes with cdk-nag (a finding would fail the synthesis), matches the committed snapshot
`integ_recognition.py.snapshot/`, names no account or region, and its assertions read the result
with the contract's keys and copy the image with exactly the two grants a copy needs.

Update the snapshot after an intended change with: make snapshot-update
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from recognizer.contract import PARTITION_KEY, SORT_KEY
from tests.infra.helpers import only, resources

HERE = Path(__file__).resolve().parent
SNAPSHOT = HERE / "integ_recognition.py.snapshot"
STACK, ASSERTIONS = "CelebrityRecognitionInteg", "RecognitionIntegAssertions"

# Asset hashes change with every handler edit; the assertion handler's `salt` with every synthesis
# (it is the time, so that CloudFormation runs the call again on every deploy).
_ASSET_HASH = re.compile(r"\b[0-9a-f]{64}\b")
_SALT = re.compile(r'"salt": "\d+"')


def _load_integ_app() -> ModuleType:
    # integ_*.py is an app, not a test module: loaded by path, as `make integ` runs it.
    spec = importlib.util.spec_from_file_location("integ_recognition", HERE / "integ_recognition.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def assembly_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("integ-out")
    with pytest.MonkeyPatch.context() as patch:
        # The committed snapshot is of the generated faceless image.
        patch.delenv("INTEG_CELEBRITY_IMAGE", raising=False)
        patch.delenv("INTEG_CELEBRITY_NAME", raising=False)
        _load_integ_app().build(str(outdir), bundle=False).synth()
    return outdir


def snapshot_files(assembly_dir: Path) -> dict[str, str]:
    """What the snapshot keeps: each stack's template and the test manifest, normalized."""
    names = [f"{STACK}.template.json", f"{ASSERTIONS}.template.json", "integ.json"]
    return {name: normalized((assembly_dir / name).read_text()) for name in names}


def normalized(text: str) -> str:
    document = json.loads(text)
    text = json.dumps(document, indent=1, sort_keys=True) + "\n"
    return _SALT.sub('"salt": "<time>"', _ASSET_HASH.sub("<asset-hash>", text))


def template(assembly_dir: Path, stack: str) -> dict[str, Any]:
    return json.loads((assembly_dir / f"{stack}.template.json").read_text())


def test_matches_the_committed_snapshot(assembly_dir: Path, request: pytest.FixtureRequest) -> None:
    actual = snapshot_files(assembly_dir)
    if request.config.getoption("--snapshot-update", default=False):
        SNAPSHOT.mkdir(exist_ok=True)
        for stale in SNAPSHOT.iterdir():
            stale.unlink()
        for name, text in actual.items():
            (SNAPSHOT / name).write_text(text)
    committed = {path.name: path.read_text() for path in SNAPSHOT.iterdir()} if SNAPSHOT.is_dir() else {}
    assert committed.keys() == actual.keys(), "run `make snapshot-update` after an intended change"
    for name, text in actual.items():
        assert committed[name] == text, f"{name} differs from the snapshot: run `make snapshot-update`"


def test_the_test_case_is_the_apps_stack_in_dev_mode(assembly_dir: Path) -> None:
    manifest = json.loads((assembly_dir / "integ.json").read_text())
    [case] = manifest["testCases"].values()
    assert case["stacks"] == [STACK]
    assert case["assertionStack"] == ASSERTIONS
    stack = template(assembly_dir, STACK)
    # dev: the buckets and the table go with the stack.
    buckets = resources(stack, "AWS::S3::Bucket")
    assert buckets and all(bucket["DeletionPolicy"] == "Delete" for bucket in buckets.values())
    [table] = resources(stack, "AWS::DynamoDB::Table").values()
    assert table["DeletionPolicy"] == "Delete"


def test_names_no_account_and_no_region(assembly_dir: Path) -> None:
    for name, text in snapshot_files(assembly_dir).items():
        assert not re.search(r"\b\d{12}\b", text), name
        assert not re.search(r"\b(?:us|eu|ap|ca|sa|me|af|il|mx)-[a-z]+-\d\b", text), name


def test_assertions_upload_then_read_the_result_by_the_contracts_keys(assembly_dir: Path) -> None:
    assertions = template(assembly_dir, ASSERTIONS)
    copy_id, copy = only(assertions, "Custom::DeployAssert@SdkCallS3copyObject")
    _, get_item = only(assertions, "Custom::DeployAssert@SdkCallDynamoDBgetItem")
    assert copy["Properties"]["parameters"]["Key"] == '"integ/faceless.png"'
    key = json.dumps(get_item["Properties"]["parameters"]["Key"])
    # pk = IMAGE#<images bucket>/<key>, sk = VERSION#<the version the copy created>
    assert f'\\"{PARTITION_KEY}\\":{{\\"S\\":\\"IMAGE#' in key and "/integ/faceless.png" in key
    assert f'\\"{SORT_KEY}\\":{{\\"S\\":\\"VERSION#' in key
    assert f'["{copy_id}", "apiCallResponse.VersionId"]' in key
    expected = json.loads(get_item["Properties"]["expected"])
    assert expected == {
        "$ObjectLike": {
            "Item": {"status": {"S": "SUCCEEDED"}, "celebrity_count": {"N": "0"}, "celebrities": {"L": []}}
        }
    }
    # It waits: a state machine polls until the result is there (or fails the deployment).
    assert "stateMachineArn" in get_item["Properties"]


def test_the_copy_may_read_only_the_image_asset_and_write_only_its_key(assembly_dir: Path) -> None:
    assertions = template(assembly_dir, ASSERTIONS)
    statements = [
        statement
        for role in resources(assertions, "AWS::IAM::Role").values()
        for policy in role["Properties"].get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
        if statement["Action"] in (["s3:GetObject"], ["s3:PutObject"])
    ]
    by_action = {statement["Action"][0]: json.dumps(statement["Resource"]) for statement in statements}
    assert by_action.keys() == {"s3:GetObject", "s3:PutObject"}
    assert re.search(
        r'cdk-hnb659fds-assets-\$\{AWS::AccountId\}-\$\{AWS::Region\}"\}, "/[0-9a-f]{64}\.png"',
        by_action["s3:GetObject"],
    )
    assert "PublishOutputFnGetAttStorageImages" in by_action["s3:PutObject"]
    assert by_action["s3:PutObject"].endswith('"/integ/faceless.png"]]}]')
