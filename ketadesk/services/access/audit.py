"""The audit trail: one append-only event for every write a service makes.

Events are only ever inserted: this module (and the whole application) offers no way to change
or delete one.  Refused attempts and disclosures of patient data (prints, exports) are events
too; ``access/audit_log.py`` reads the trail for the audit viewer.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ketadesk.services.common.context import Actor, Database, PermissionDenied
from ketadesk.store import raw
from ketadesk.store.models import Appointment, AuditEvent, Patient

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
        raw.insert_rows(raw.connection(session), _INSERT, entries)


def write_in(batch: raw.Batch, entries: Sequence[dict[str, Any]]) -> None:
    """``write``, as one statement of a batch of writes (``store/raw.Batch``)."""
    batch.insert(_INSERT, entries)


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


# --------------------------------------------------------------------------------------------
# Refusals and disclosures: events written in their own short transaction.

log = logging.getLogger(__name__)


def record_refusal(
    db: Database,
    err: PermissionDenied,
    *,
    entity: str = "permission",
    entity_id: int | None = None,
    patient_id: int | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Record that ``err``'s actor was refused its action, in a transaction of its own.

    Called by ``require(actor, action, db)`` before the service opens its transaction, or by
    a service that checked inside one, once that transaction has rolled back.  Records a given
    refusal once; a failure to record it is logged and does not hide the refusal itself.
    """
    actor = err.actor
    if actor is None or err.audited:
        return
    row = entry(
        actor,
        "refused",
        entity,
        entity_id,
        patient_id=patient_id,
        after={"action": err.action, "role": actor.role},
        detail=str(err),
        now=now,
    )
    try:
        with db.write() as session:
            write(session, [row])
    except SQLAlchemyError as failure:
        log.error("could not record a refused %s: %s", err.action, type(failure).__name__)
        return
    err.audited = True


def record_disclosure(
    db: Database,
    actor: Actor,
    what: str,
    patient_id: int | None,
    detail: str = "",
    *,
    chart: str | None = None,
    appointment_id: int | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Record that patient data left the application: a print, a PDF, an export.

    ``what`` names the document ("appointment card", "day sheet", "csv export"); ``patient_id``
    is the one patient it is about (or give ``chart`` or ``appointment_id`` and it is looked
    up), or None for a document about many (say so in ``detail``).
    """
    with db.write() as session:
        if patient_id is None and chart is not None:
            patient_id = session.scalar(select(Patient.id).where(Patient.chart_number == chart))
        if patient_id is None and appointment_id is not None:
            patient_id = session.scalar(
                select(Appointment.patient_id).where(Appointment.id == appointment_id)
            )
        write(
            session,
            [
                entry(
                    actor,
                    "disclose",
                    "document",
                    None,
                    patient_id=patient_id,
                    after={"document": what},
                    detail=detail,
                    now=now,
                )
            ],
        )


def record_view(
    db: Database,
    actor: Actor,
    what: str,
    patient_id: int | None,
    *,
    entity: str = "patient",
    entity_id: int | None = None,
    detail: str = "",
    now: dt.datetime | None = None,
) -> None:
    """Record that ``actor`` read a patient's clinical data, in a transaction of its own.

    One event per opening (a record, a dialog, a chart), never one per row of a list.  Called
    after the read and before the data is returned, so a failure to record it fails the read:
    nothing clinical reaches the screen unrecorded.  ``what`` names what was read ("patient
    record (clinical part)", "monitoring record", "PHQ-9 trend").
    """
    with db.write() as session:
        write(
            session,
            [
                entry(
                    actor,
                    "view",
                    entity,
                    entity_id if entity_id is not None else patient_id,
                    patient_id=patient_id,
                    after={"read": what},
                    detail=detail,
                    now=now,
                )
            ],
        )
