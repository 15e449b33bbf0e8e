"""Merging two charts of one person: everything recorded under the second chart moves to the
first, and the second stays, inactive, as "merged into" the first.

What moves is every row that names a patient (``MOVED_TABLES``): series, appointments (with
their holds, events and session records, which hang off the appointment), follow-ups and
measurements.  The audit trail is append-only, so its events keep naming the chart they were
written for; the merge itself is recorded on both charts, with each one's before and after,
and the merged chart points at the kept one.  Two charts with live sessions at overlapping
times are refused: one person cannot sit in two chairs, so one of those bookings is a mistake
to sort out first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select, update
from sqlalchemy.orm import Session, aliased

from ketadesk.scheduling.calendar import ClinicCalendar
from ketadesk.scheduling.statuses import RELEASED_STATUSES
from ketadesk.scheduling.words import counted
from ketadesk.services.access import audit
from ketadesk.services.access.permissions import require
from ketadesk.services.common.context import Actor, Database, InvalidRequest, NotFound, utcnow
from ketadesk.store import changes
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.models import (
    Appointment,
    FollowUp,
    Measurement,
    Patient,
    PatientAway,
    ReminderMessage,
    Series,
    SessionFee,
    WaitlistEntry,
)

#: The tables whose rows belong to a chart, with the words a preview uses for them.  A new
#: table with a ``patient_id`` belongs here (tests/services/patients/test_merge.py checks it).
MOVED_TABLES: tuple[tuple[type[Any], str], ...] = (
    (Series, "series"),
    (Appointment, "appointments"),
    (FollowUp, "follow-ups"),
    (Measurement, "measurements"),
    (WaitlistEntry, "waitlist entries"),
    (ReminderMessage, "e-mail reminders"),
    (SessionFee, "fees"),
    (PatientAway, "days away"),
)
#: Tables that name a patient but are not moved: the audit trail is append-only, and a consent
#: to e-mail reminders is the answer recorded on that chart (the kept chart's own answer
#: counts; the merged chart's stays as its record).
KEPT_TABLES = ("audit_event", "reminder_consent")


@dataclass(frozen=True, slots=True)
class ChartSummary:
    patient_id: int
    chart_number: str
    name: str
    date_of_birth: str


@dataclass(frozen=True, slots=True)
class MergePreview:
    """What merging ``merged`` into ``kept`` would move (label -> rows) and what stands in the
    way (``refusal``, empty when the merge may go ahead)."""

    kept: ChartSummary
    merged: ChartSummary
    moves: tuple[tuple[str, int], ...]
    refusal: str


def _summary(patient: Patient) -> ChartSummary:
    born = patient.date_of_birth
    return ChartSummary(
        patient_id=patient.id,
        chart_number=patient.chart_number,
        name=patient.display_name,
        date_of_birth=born.strftime("%m/%d/%Y") if born else "",
    )


def _live(alias: type[Appointment]) -> ColumnElement[bool]:
    return alias.status.not_in(sorted(RELEASED_STATUSES))


def _overlaps(session: Session, kept_id: int, merged_id: int) -> list[tuple[dt.datetime, str]]:
    a = aliased(Appointment)
    b = aliased(Appointment)
    rows = session.execute(
        select(a.starts_at, b.id)
        .join(b, and_(b.patient_id == merged_id, b.starts_at < a.ends_at, a.starts_at < b.ends_at))
        .where(a.patient_id == kept_id, _live(a), _live(b))
        .order_by(a.starts_at)
    )
    return [(starts, str(other)) for starts, other in rows]


def _plan(session: Session, kept_id: int, merged_id: int) -> tuple[Patient, Patient, MergePreview]:
    if kept_id == merged_id:
        raise InvalidRequest("a chart cannot be merged into itself")
    kept = session.get(Patient, kept_id)
    merged = session.get(Patient, merged_id)
    if kept is None or merged is None:
        raise NotFound(f"no patient with id {merged_id if kept else kept_id}")
    moves = tuple(
        (
            label,
            session.scalar(
                select(func.count()).select_from(model).where(model.patient_id == merged_id)
            )
            or 0,
        )
        for model, label in MOVED_TABLES
    )
    refusal = ""
    if merged.merged_into_id is not None:
        refusal = f"chart {merged.chart_number} was already merged into another chart"
    elif kept.merged_into_id is not None:
        refusal = f"chart {kept.chart_number} was merged into another chart: merge into that one"
    else:
        overlaps = _overlaps(session, kept_id, merged_id)
        if overlaps:
            # Said in the clinic's time and time format, as the desk reads every other time.
            calendar = ClinicCalendar(load_catalog(session).settings)
            at = overlaps[0][0]
            first = f"{calendar.local(at):%m/%d/%Y} {calendar.clock(at)}"
            refusal = (
                f"the two charts have {counted(len(overlaps), 'overlapping session')} "
                "(the first on "
                f"{first}): cancel or move one of each pair first"
            )
    return kept, merged, MergePreview(_summary(kept), _summary(merged), moves, refusal)


def preview_merge(db: Database, actor: Actor, kept_id: int, merged_id: int) -> MergePreview:
    """What merging chart ``merged_id`` into ``kept_id`` would move, for the window to show."""
    require(actor, "merge_patients")
    with db.read() as session:
        return _plan(session, kept_id, merged_id)[2]


def merge_patients(
    db: Database, actor: Actor, kept_id: int, merged_id: int, *, now: dt.datetime | None = None
) -> MergePreview:
    """Merge chart ``merged_id`` into ``kept_id`` in one transaction; returns what moved.

    PermissionDenied (recorded) for anyone but an administrator; InvalidRequest when the
    charts have overlapping live sessions or one of them was already merged; NotFound."""
    require(actor, "merge_patients", db, now=now)
    now = now or utcnow()
    with db.write() as session:
        kept, merged, preview = _plan(session, kept_id, merged_id)
        if preview.refusal:
            raise InvalidRequest(preview.refusal)
        moved: dict[str, list[int]] = {}
        for model, label in MOVED_TABLES:
            ids = list(session.scalars(select(model.id).where(model.patient_id == merged_id)))
            moved[label] = ids
            if not ids:
                continue
            values: dict[str, Any] = {"patient_id": kept_id}
            if model is Appointment:
                # Another workstation holding one of these appointments must see it changed.
                values["version"] = Appointment.version + 1
            session.execute(
                update(model)
                .where(model.patient_id == merged_id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        merged_before = {"active": merged.active, "merged_into_id": None}
        merged.active = False
        merged.merged_into_id = kept_id
        counts = {label: len(ids) for label, ids in moved.items()}
        detail = f"chart {merged.chart_number} merged into chart {kept.chart_number}"
        audit.record(
            session,
            actor,
            "merge_patients",
            "patient",
            kept_id,
            patient_id=kept_id,
            before={"chart_number": kept.chart_number},
            after={
                "chart_number": kept.chart_number,
                "merged_chart": merged.chart_number,
                "merged_patient_id": merged_id,
                "moved": moved,
            },
            detail=detail,
            now=now,
        )
        audit.record(
            session,
            actor,
            "merged_into",
            "patient",
            merged_id,
            patient_id=merged_id,
            before={**merged_before, "rows": counts},
            after={
                "active": False,
                "merged_into_id": kept_id,
                "kept_chart": kept.chart_number,
                "rows": dict.fromkeys(counts, 0),
            },
            detail=detail,
            now=now,
        )
        changes.bump(session, now)
        return preview
