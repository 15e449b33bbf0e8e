"""The audit trail: one append-only event for every write a service makes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from ketadesk.services.context import Actor
from ketadesk.store.models import AuditEvent


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
            at=now or dt.datetime.now(dt.UTC),
            user_id=actor.user_id,
            username=actor.username,
            action=action,
            entity=entity,
            entity_id=entity_id,
            patient_id=patient_id,
            before=before,
            after=after,
            detail=detail,
        )
    )
