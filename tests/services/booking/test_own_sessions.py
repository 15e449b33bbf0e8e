"""A therapist starts and completes their own sessions (the README's "their sessions"): a
session they are not assigned to is refused in words, and the refusal is on record.  Other
roles act on any session, as before."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from ketadesk.services.booking import booking
from ketadesk.services.booking.appointment_changes import change_status, undo_status
from ketadesk.services.booking.appointments import appointment_detail
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.common.context import SYSTEM, Actor, PermissionDenied
from ketadesk.store.models import Appointment, AuditEvent, User
from tests.clinic_fixtures import RIDE_HOME, SmallClinic, build_small_clinic, ready_for_discharge

# Wed 2 Dec 2026, 07:45 in San Diego: the sessions' own day (check-in and start wait for it)
NOW = dt.datetime(2026, 12, 2, 15, 45, tzinfo=dt.UTC)
WED = dt.date(2026, 12, 2)
SAM_SESSION = {"therapist": "Sam Rivera", "office": "Office A"}
IV = {"room": "Room 1", "monitor": "Monitor 1", "nurse": "Nurse Kim"}
NURSE = Actor(user_id=None, username="kim", role="nurse")


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(db_url)
    yield c
    c.db.dispose()


def _user(clinic: SmallClinic, username: str, staff: str | None) -> Actor:
    """A therapist's account, linked to a staff member (or to nobody)."""
    with clinic.db.write() as s:
        user = User(
            username=username,
            display_name=username.title(),
            role="therapist",
            staff_id=clinic.ids[staff] if staff else None,
        )
        s.add(user)
        s.flush()
        return Actor(user_id=user.id, username=username, role="therapist")


def _book(clinic: SmallClinic, session_type: str, hhmm: str, assign: dict[str, str]) -> int:
    request = BookingRequest(
        patient_id=clinic.ids["Ada Lovelace"],
        sessions=(clinic.session(session_type, WED, hhmm, assign),),
    )
    return booking.book(clinic.db, SYSTEM, request, now=NOW).appointment_ids[0]


def _status(clinic: SmallClinic, appointment_id: int) -> str:
    with clinic.db.read() as s:
        appointment = s.get(Appointment, appointment_id)
        assert appointment is not None
        return appointment.status


def test_a_therapist_starts_and_completes_their_own_session(clinic: SmallClinic) -> None:
    sam = _user(clinic, "sam", "Sam Rivera")
    appt = _book(clinic, "integration", "09:00", SAM_SESSION)
    assert appointment_detail(clinic.db, appt, sam).offered_actions == ("start",)
    change_status(clinic.db, sam, appt, "start", now=NOW)
    change_status(clinic.db, sam, appt, "complete", now=NOW, ride=RIDE_HOME)
    assert _status(clinic, appt) == "completed"


def test_a_therapist_may_not_start_someone_elses_session(clinic: SmallClinic) -> None:
    _user(clinic, "sam", "Sam Rivera")
    other = _user(clinic, "alex", None)  # a therapist whose account names no staff member
    sams = _book(clinic, "integration", "09:00", SAM_SESSION)
    infusion = _book(clinic, "iv_infusion", "13:00", IV)
    for appt in (sams, infusion):
        with pytest.raises(
            PermissionDenied,
            match="A therapist may start only their own sessions, and this session is not "
            "assigned to alex",
        ):
            change_status(clinic.db, other, appt, "start", now=NOW)
        assert _status(clinic, appt) == "booked"
        assert appointment_detail(clinic.db, appt, other).offered_actions == ()
    with clinic.db.read() as s:
        refused = s.scalars(
            select(AuditEvent.entity_id).where(
                AuditEvent.action == "refused", AuditEvent.username == "alex"
            )
        ).all()
    assert set(refused) == {sams, infusion}


def test_a_therapist_assigned_elsewhere_may_not_complete_an_infusion(clinic: SmallClinic) -> None:
    sam = _user(clinic, "sam", "Sam Rivera")
    infusion = _book(clinic, "iv_infusion", "13:00", IV)
    change_status(clinic.db, NURSE, infusion, "start", now=NOW)  # nurses: any session
    with pytest.raises(PermissionDenied, match="may complete only their own sessions"):
        change_status(clinic.db, sam, infusion, "complete", now=NOW, ride=RIDE_HOME)
    with pytest.raises(PermissionDenied, match="may start only their own sessions"):
        undo_status(clinic.db, sam, infusion, now=NOW)
    ready_for_discharge(clinic.db, infusion)
    change_status(clinic.db, NURSE, infusion, "complete", now=NOW, ride=RIDE_HOME)
    assert _status(clinic, infusion) == "completed"
