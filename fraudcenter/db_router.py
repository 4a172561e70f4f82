"""Database aliases: `default` is the primary; `replica` (DATABASE_REPLICA_URL, optional) is
a read-only copy that serves the reports and the exports.

Routing to the replica is explicit: the report selectors and the exports read through
reports_db_alias() (`.using(...)`, `connections[...]`). Nothing else ever goes there,
because a replica lags behind the primary: a case page, a service's read inside its
transaction or a select_for_update must see the primary. So the router does not route
reads at all; it only makes sure that nothing is written through the replica (an object
read from it saves to the primary) and that migrations run on the primary only."""

from __future__ import annotations

from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections

REPLICA = "replica"


def reports_db_alias() -> str:
    """Where reports and exports read: the replica when configured, else the primary."""
    return REPLICA if REPLICA in connections.settings else DEFAULT_DB_ALIAS


def replica_database(replica: dict[str, Any], primary: dict[str, Any]) -> dict[str, Any]:
    """The `replica` alias from its URL's settings, with the primary's connection policy
    (persistence, health checks, and the server settings it sends, such as jit=off: the
    reports' queries run here).

    Every transaction on it is read-only, so a write sent there by mistake fails loudly
    even when the URL points at the primary itself. In tests it mirrors `default`
    (Django's TEST MIRROR): the same test database, through a connection of its own."""
    options = dict(replica.get("OPTIONS", {}))
    server = (
        primary.get("OPTIONS", {}).get("options", ""),
        options.get("options", ""),
        "-c default_transaction_read_only=on",
    )
    options["options"] = " ".join(part for part in server if part)
    return {
        **replica,
        "OPTIONS": options,
        "CONN_MAX_AGE": primary.get("CONN_MAX_AGE", 0),
        "CONN_HEALTH_CHECKS": primary.get("CONN_HEALTH_CHECKS", False),
        "TEST": {"MIRROR": DEFAULT_DB_ALIAS},
    }


class PrimaryReplicaRouter:
    def db_for_read(self, model: type, **hints: Any) -> str | None:
        # None: the primary, or the database the hinted instance came from (the related
        # rows of an object a report read from the replica come from the replica too).
        return None

    def db_for_write(self, model: type, **hints: Any) -> str | None:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        same_data = {DEFAULT_DB_ALIAS, REPLICA}
        if obj1._state.db in same_data and obj2._state.db in same_data:
            return True
        return None

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any):
        return False if db == REPLICA else None
