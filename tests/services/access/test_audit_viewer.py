"""Reading the audit trail: filters, an appointment's history, disclosures, and no way to
change an event."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

import ketadesk
from ketadesk.services.access import audit, audit_log
from ketadesk.services.access.audit_log import AuditRow
from ketadesk.services.booking import appointment_changes, booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.common.context import Actor, InvalidRequest, PermissionDenied
from ketadesk.store.models import AuditEvent
from tests.clinic_fixtures import SmallClinic, build_small_clinic

NOW = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)  # Tuesday 1 Dec 2026, 08:00 local
WED = dt.date(2026, 12, 2)
THU = dt.date(2026, 12, 3)
IV_A = {"room": "Room 1", "monitor": "Monitor 1", "nurse": "Nurse Kim"}
IV_B = {"room": "Room 2", "monitor": "Monitor 2", "nurse": "Nurse Kim"}
MARIA = Actor(user_id=None, username="maria", role="front_desk")
JO = Actor(user_id=None, username="jo", role="nurse")
ADMIN = Actor(user_id=None, username="boss", role="admin")


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(db_url)
    yield c
    c.db.dispose()


def _book(clinic: SmallClinic, who: str, actor: Actor, day: dt.date, at: dt.datetime) -> int:
    request = BookingRequest(
        patient_id=clinic.ids[who], sessions=(clinic.session("iv_infusion", day, "10:00", IV_A),)
    )
    return booking.book(clinic.db, actor, request, now=at).appointment_ids[0]


def test_an_appointments_history_has_every_change_with_before_and_after(
    clinic: SmallClinic,
) -> None:
    appt = _book(clinic, "Ada Lovelace", MARIA, WED, NOW)
    later = NOW + dt.timedelta(minutes=5)
    appointment_changes.move(
        clinic.db,
        JO,
        appt,
        clinic.session("iv_infusion", WED, "13:00", IV_B),
        reason="patient asked",
        now=later,
    )
    appointment_changes.change_status(clinic.db, MARIA, appt, "cancel", reason="flu", now=later)
    appointment_changes.undo_status(clinic.db, MARIA, appt, now=later + dt.timedelta(minutes=1))
    history = audit_log.appointment_history(clinic.db, ADMIN, appt)
    assert [(r.action, r.username) for r in history] == [
        ("book", "maria"),
        ("move", "jo"),
        ("cancel", "maria"),
        ("undo_cancel", "maria"),
    ]
    booked, moved, cancelled, undone = history
    assert booked.before is None
    assert booked.after is not None
    assert booked.after["status"] == "booked"
    assert booked.patient.endswith("Lovelace, Ada")
    assert moved.before is not None
    assert moved.after is not None
    assert moved.before["starts_at"] != moved.after["starts_at"]
    assert moved.detail == "patient asked"
    assert ("status", "booked", "cancelled") in cancelled.changes()
    assert "status: booked → cancelled" in cancelled.change_summary()
    assert ("status", "cancelled", "booked") in undone.changes()
    # A trial read "starts_at 2026-12-09 15:45" of a 7:45 AM session: clinic-local, in words.
    assert "starts_at: Wed Dec 2, 2026 10:00 → Wed Dec 2, 2026 13:00" in (  # [clinic] 24h
        moved.change_summary()
    )


def _seed(clinic: SmallClinic) -> tuple[int, int]:
    ada = _book(clinic, "Ada Lovelace", MARIA, WED, NOW)
    mary = _book(clinic, "Mary Seacole", JO, THU, NOW + dt.timedelta(days=1))
    appointment_changes.change_status(
        clinic.db, JO, mary, "cancel", reason="no ride", now=NOW + dt.timedelta(days=1, hours=1)
    )
    return ada, mary


def _actions(rows: list[AuditRow]) -> list[tuple[str, str]]:
    # Appointments only: bookings may also write follow-up events (another module's concern).
    return [(r.username, r.action) for r in rows if r.entity == "appointment"]


def test_filters_narrow_the_events_newest_first(clinic: SmallClinic) -> None:
    _ada, mary = _seed(clinic)
    db = clinic.db
    everything = audit_log.audit_events(db, ADMIN)
    assert _actions(everything) == [("jo", "cancel"), ("jo", "book"), ("maria", "book")]
    assert _actions(audit_log.audit_events(db, ADMIN, user="maria")) == [("maria", "book")]
    assert _actions(audit_log.audit_events(db, ADMIN, action="cancel")) == [("jo", "cancel")]
    by_id = audit_log.audit_events(db, ADMIN, patient_id=clinic.ids["Mary Seacole"])
    assert {r.entity_id for r in by_id} == {mary}
    assert len(_actions(audit_log.audit_events(db, ADMIN, patient="seaco"))) == 2
    assert len(_actions(audit_log.audit_events(db, ADMIN, patient="Mary Seacole"))) == 2
    assert _actions(audit_log.audit_events(db, ADMIN, patient="BT-1")) == [("maria", "book")]
    assert {r.patient_id for r in audit_log.audit_events(db, ADMIN, patient="seaco")} == {
        clinic.ids["Mary Seacole"]
    }
    assert audit_log.audit_events(db, ADMIN, patient="BT-") == []  # a chart number matches whole
    assert audit_log.audit_events(db, ADMIN, patient="%") == []  # no wildcards from the user
    day_two = audit_log.audit_events(
        db, ADMIN, since=NOW + dt.timedelta(hours=12), until=NOW + dt.timedelta(days=2)
    )
    assert _actions(day_two) == [("jo", "cancel"), ("jo", "book")]
    local_day = audit_log.audit_events(db, ADMIN, first_day=WED, last_day=WED)
    assert _actions(local_day) == [("jo", "cancel"), ("jo", "book")]
    assert _actions(audit_log.audit_events(db, ADMIN, last_day=WED - dt.timedelta(days=1))) == [
        ("maria", "book")
    ]
    assert everything[-1].local_at.strftime("%Y-%m-%d %H:%M") == "2026-12-01 08:00"
    appointments = audit_log.audit_events(db, ADMIN, entity="appointment")
    assert _actions(appointments) == _actions(everything)
    page = audit_log.audit_events(db, ADMIN, entity="appointment", limit=2, offset=1)
    assert _actions(page) == [("jo", "book"), ("maria", "book")]
    users, actions = audit_log.audit_choices(db, ADMIN)
    assert users == ["jo", "maria"]
    assert {"book", "cancel"} <= set(actions)
    assert actions == sorted(actions)
    with pytest.raises(InvalidRequest, match="not after its start"):
        audit_log.audit_events(db, ADMIN, since=NOW, until=NOW)


def test_only_administrators_read_the_trail_and_refusals_are_recorded(
    clinic: SmallClinic,
) -> None:
    _seed(clinic)
    for actor in (MARIA, JO):
        with pytest.raises(
            PermissionDenied, match="Only an administrator may view the audit trail"
        ):
            audit_log.audit_events(clinic.db, actor)
    with pytest.raises(PermissionDenied):
        audit_log.appointment_history(clinic.db, MARIA, 1)
    refused = audit_log.audit_events(clinic.db, ADMIN, action="refused")
    # Newest first: the history asked for last.
    assert [(r.username, r.after) for r in refused] == [
        ("maria", {"action": "view_audit", "role": "front_desk"}),
        ("jo", {"action": "view_audit", "role": "nurse"}),
        ("maria", {"action": "view_audit", "role": "front_desk"}),
    ]


def test_prints_and_exports_are_recorded_as_disclosures(clinic: SmallClinic) -> None:
    ada = clinic.ids["Ada Lovelace"]
    audit.record_disclosure(clinic.db, MARIA, "appointment card", ada, "printed", now=NOW)
    audit.record_disclosure(clinic.db, MARIA, "day sheet", None, "12 patients", now=NOW)
    rows = audit_log.audit_events(clinic.db, ADMIN, action="disclose")
    assert [(r.patient_id, r.after, r.detail) for r in rows] == [
        (None, {"document": "day sheet"}, "12 patients"),
        (ada, {"document": "appointment card"}, "printed"),
    ]
    assert audit_log.audit_events(clinic.db, ADMIN, patient="Lovelace")[0].action == "disclose"


def test_each_booking_write_produces_one_event(clinic: SmallClinic) -> None:
    def count() -> int:
        with clinic.db.read() as s:
            query = select(func.count()).where(AuditEvent.entity == "appointment")
            return s.scalar(query) or 0

    before = count()
    appt = _book(clinic, "Ada Lovelace", MARIA, WED, NOW)
    assert count() == before + 1
    on_the_day = clinic.at(WED, "07:30")  # a check-in waits for the session's own day
    appointment_changes.change_status(clinic.db, MARIA, appt, "check_in", now=on_the_day)
    assert count() == before + 2


_WRITES_TO_AUDIT = re.compile(
    r"(update|delete)\(\s*(AuditEvent|audit_event)\b"
    r"|(UPDATE|DELETE\s+FROM)\s+audit_event"
    r"|session\.delete\(\s*\w*event",
    re.IGNORECASE,
)


def test_nothing_in_the_application_updates_or_deletes_an_audit_event() -> None:
    package = Path(ketadesk.__file__).parent
    offenders = [
        f"{path.relative_to(package)}:{n}: {line.strip()}"
        for path in sorted(package.rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if _WRITES_TO_AUDIT.search(line)
    ]
    assert offenders == []
    # The audit module's own table handle is only ever inserted into.
    source = Path(audit.__file__).read_text(encoding="utf-8")
    assert "update(" not in source
    assert "delete(" not in source
    public = [name for name in dir(audit) if not name.startswith("_")]
    assert not [n for n in public if n.startswith(("update", "delete", "edit", "remove"))]
