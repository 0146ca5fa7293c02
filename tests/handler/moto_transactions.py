"""Keeps moto's TransactWriteItems fast on big tables, with the same all-or-nothing outcome.

moto 5.2.5 deep-copies a table once per item of a transaction before running it, so that it can
put the copy back if the transaction is cancelled (moto/dynamodb/models/__init__.py,
transact_write_items). The copies grow with the table: about 0.2 s per three-item transaction at
1,500 items, 0.45 s at 3,000, so a burst of a few hundred uploads on one moto server spends minutes
copying. `install()` keeps, instead, only the items the transaction addresses and puts those back
when it is cancelled; the cost no longer depends on the table's size. That is exact for Put, Delete
and ConditionCheck, which replace, remove or only read whole items. A transaction with an Update
(which changes an item in place) keeps moto's deep copies. The function only sends Puts.

Call `install()` in the process that runs moto: the test process for `mock_aws`, the server's
process for `moto_server` (e.g. in its start-up script).
"""

from __future__ import annotations

import copy
import threading
import types
from typing import Any

_state = threading.local()  # moto_server answers requests on several threads
_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    original = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        if any("Update" in item for item in transact_items):
            return original(self, transact_items)
        saved = _addressed_items(self, transact_items)
        _state.keep_tables = True
        try:
            return original(self, transact_items)
        except Exception:
            for restore in reversed(saved):  # the first look at a key is its state before the call
                restore()
            raise
        finally:
            _state.keep_tables = False

    def deepcopy(value: Any, memo: Any = None) -> Any:
        if isinstance(value, Table) and getattr(_state, "keep_tables", False):
            return value  # moto "restores" the table itself; `saved` undoes what the call changed
        return copy.deepcopy(value, memo)

    # Only the transactions module's view of `copy` changes; moto's backups keep their deep copies.
    models.copy = types.SimpleNamespace(**{**vars(copy), "deepcopy": deepcopy})
    models.DynamoDBBackend.transact_write_items = transact_write_items
    _installed = True


def _addressed_items(backend: Any, transact_items: list[dict[str, Any]]) -> list[Any]:
    """One restore action per item the transaction addresses, capturing that item as it is now."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    saved = []
    for request in transact_items:
        for operation, details in request.items():
            try:
                table = backend.get_table(details["TableName"])
                key = details["Item"] if operation == "Put" else details["Key"]
                hash_value = DynamoType(key[table.hash_key_attr])
                range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
            except Exception:  # a malformed request: moto reports it itself
                continue
            saved.append(_restorer(table, hash_value, range_value))
    return saved


def _restorer(table: Any, hash_value: Any, range_value: Any) -> Any:
    items = table.items
    if range_value is None:
        had, previous = hash_value in items, items.get(hash_value)

        def restore() -> None:
            if had:
                items[hash_value] = previous
            else:
                items.pop(hash_value, None)

        return restore
    had_partition = hash_value in items
    previous = items[hash_value].get(range_value) if had_partition else None

    def restore_ranged() -> None:
        partition = items.get(hash_value)
        if previous is not None:
            items[hash_value][range_value] = previous
        elif partition is not None:
            partition.pop(range_value, None)
            if not partition and not had_partition:
                del items[hash_value]

    return restore_ranged
