"""Idempotency-Key handling (IETF draft "The Idempotency-Key HTTP Header Field").

The key row is inserted FIRST inside the request's transaction, and the business rows
(the case, its subscriber, its timeline event, anything case_open writes) and the stored
response commit together with it. So:

- a retry after the first request committed finds the row in state DONE and replays the
  stored status and body, creating nothing;
- a retry while the first request is still running blocks on the unique index
  (owner, key) until the first one commits, then replays its answer: both callers get
  the same response. If it waits longer than IDEMPOTENCY_LOCK_TIMEOUT_MS (PostgreSQL's
  lock_timeout) it gets 409 and may retry later;
- if the first request fails (bad input, a crash) its transaction rolls back with the
  key row, and the same key may be used again;
- the same key with another body is 422.

On SQLite, IMMEDIATE transactions serialise writers, so the second request waits for the
first one's commit in the same way.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import OperationalError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.utils.encoders import JSONEncoder

from .models import Case, IdempotencyKey

MAX_KEY_LENGTH = 255


class IdempotencyKeyReused(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = _("Этот Idempotency-Key уже использован для другого запроса.")
    default_code = "idempotency_key_reused"


class IdempotencyKeyInFlight(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = _("Запрос с этим Idempotency-Key ещё выполняется. Повторите позже.")
    default_code = "idempotency_key_in_flight"
    retry_after_seconds = 1


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: Any
    replayed: bool
    case_id: int | None = None


def to_json(data: Any) -> Any:
    """What the response renders to, as plain JSON types (dates, decimals → strings)."""
    return json.loads(json.dumps(data, cls=JSONEncoder))


def request_fingerprint(data: Any) -> str:
    """A hash of the request body that ignores key order and whitespace."""
    if hasattr(data, "lists"):  # a form-encoded QueryDict
        data = {k: v if len(v) > 1 else v[0] for k, v in data.lists()}
    canonical = json.dumps(data, cls=JSONEncoder, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotent_call(
    *,
    owner: User,
    key: str,
    fingerprint: str,
    handler: Callable[[], tuple[int, Any, Case | None]],
) -> StoredResponse:
    """Run handler() once per (owner, key); replay its stored answer for every retry.

    handler returns (status, JSON body, case) and runs inside this transaction; an
    exception from it rolls back everything, the key row included."""
    with transaction.atomic():
        try:
            # Blocks here while another transaction holds an uncommitted row for this key.
            claimed = _insert_key(owner_id=owner.pk, key=key, fingerprint=fingerprint)
        except OperationalError as exc:  # lock_timeout: the first request is still running
            raise IdempotencyKeyInFlight() from exc
        if not claimed:
            record = IdempotencyKey.objects.get(owner=owner, key=key)
            if record.request_hash != fingerprint:
                raise IdempotencyKeyReused() from None
            if record.state != IdempotencyKey.State.DONE:
                raise IdempotencyKeyInFlight() from None
            return StoredResponse(
                record.response_status or 200, record.response_body, True, record.case_id
            )
        status_code, body, case = handler()
        body = to_json(body)
        IdempotencyKey.objects.filter(owner=owner, key=key).update(
            state=IdempotencyKey.State.DONE,
            response_status=status_code,
            response_body=body,
            case=case,
        )
        return StoredResponse(status_code, body, False, case.pk if case else None)


def _insert_key(*, owner_id: int, key: str, fingerprint: str) -> bool:
    """INSERT … ON CONFLICT DO NOTHING: True when this request made the key row.

    No savepoint is needed to survive a duplicate (an IntegrityError would need one), and
    PostgreSQL still waits for an uncommitted twin before deciding there is a conflict; on
    PostgreSQL that wait is bounded by a lock_timeout for this transaction only, set by the
    row's own SELECT (`set_config(…, true)` is SET LOCAL), which runs before the insert looks
    for a twin: one statement, one round trip, with the parameters bound on the server."""
    q = connection.ops.quote_name
    table = q(IdempotencyKey._meta.db_table)
    row: list[Any] = [owner_id, key, fingerprint, IdempotencyKey.State.IN_FLIGHT, timezone.now()]
    columns = f"{q('owner_id')}, {q('key')}, {q('request_hash')}, {q('state')}, {q('created_at')}"
    conflict = f"ON CONFLICT ({q('owner_id')}, {q('key')}) DO NOTHING RETURNING {q('id')}"
    if connection.vendor == "postgresql":
        sql = (
            f"INSERT INTO {table} ({columns}) SELECT %s, %s, %s, %s, %s "
            "FROM (SELECT set_config('lock_timeout', %s, true)) AS timeout WHERE true "
            f"{conflict}"
        )
        params = [*row, f"{int(settings.IDEMPOTENCY_LOCK_TIMEOUT_MS)}ms"]
    else:
        sql, params = f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s, %s, %s) {conflict}", row
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone() is not None
