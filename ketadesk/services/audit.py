"""The audit trail: one append-only event for every write a service makes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from ketadesk.services.context import Actor
from ketadesk.store.models import AuditEvent

_TABLE = cast(Table, AuditEvent.__table__)
_INSERT = insert(_TABLE)


def entry(
    actor: Actor,
    action: str,
    entity: str,
    entity_id: int | None,
    *,
    patient_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    detail: str = "",
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """One audit event as a row, for ``write``."""
    return {
        "at": now or dt.datetime.now(dt.UTC),
        "user_id": actor.user_id,
        "username": actor.username,
        "action": action,
        "entity": entity,
        "entity_id": entity_id,
        "patient_id": patient_id,
        "before": before,
        "after": after,
        "detail": detail,
    }


def write(session: Session, entries: Sequence[dict[str, Any]]) -> None:
    """Insert audit events (rows from ``entry``) at once, in the session's transaction.

    A plain insert, for the hot paths (a booking writes one per appointment): it neither
    flushes the session nor builds objects.
    """
    if entries:
        session.connection().execute(_INSERT, list(entries))


def record(
    session: Session,
    actor: Actor,
    action: str,
    entity: str,
    entity_id: int | None,
    *,
    patient_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    detail: str = "",
    now: dt.datetime | None = None,
) -> None:
    session.add(
        AuditEvent(
            **entry(
                actor,
                action,
                entity,
                entity_id,
                patient_id=patient_id,
                before=before,
                after=after,
                detail=detail,
                now=now,
            )
        )
    )
