"""Small readers over a synthesized template dict, shared by the infra tests."""

from __future__ import annotations

import re
from typing import Any


def resources(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


def only(template: dict[str, Any], type_: str, **properties: Any) -> tuple[str, dict[str, Any]]:
    """The one resource of `type_` whose properties include `properties`; fails if not exactly one."""
    found = [
        (logical_id, resource)
        for logical_id, resource in resources(template, type_).items()
        if all(resource.get("Properties", {}).get(k) == v for k, v in properties.items())
    ]
    assert len(found) == 1, f"expected one {type_} with {properties}, found {[f[0] for f in found]}"
    return found[0]


def logical_id_of(template: dict[str, Any], path: str) -> str:
    """The logical ID CDK derives from a construct path such as `StorageImages`: path + 8 hex digits."""
    ids = [k for k in template["Resources"] if re.fullmatch(rf"{path}[0-9A-F]{{8}}", k)]
    assert len(ids) == 1, f"expected one resource for {path}, found {ids}"
    return ids[0]


def statements(template: dict[str, Any], role_logical_id: str) -> list[dict[str, Any]]:
    """Every IAM statement attached to a role: inline policies and AWS::IAM::Policy resources."""
    role = template["Resources"][role_logical_id]
    found = [s for p in role["Properties"].get("Policies", []) for s in p["PolicyDocument"]["Statement"]]
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role_logical_id} in policy["Properties"]["Roles"]:
            found.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
