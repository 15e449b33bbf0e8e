"""Roles are enforced in the services: each role can do exactly what PERMISSIONS says, is
refused the rest, and every refusal is in the audit trail (who, which action, which role).

Each case calls a real service as every role in turn.  A role that lacks one of the case's
permissions must get PermissionDenied naming the first one it lacks, with one "refused" audit
event; a role that has them all must get past the gate (most cases then succeed; a few stop
later on purpose, at a check that is not about permissions, which is noted per case).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy import func, select

from ketadesk.scheduling.model import PlannedSession
from ketadesk.services.access import accounts, audit_log
from ketadesk.services.access.permissions import OWN_SESSIONS_ONLY
from ketadesk.services.booking import appointment_changes, booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.common.context import (
    PERMISSIONS,
    ROLES,
    SYSTEM,
    Actor,
    PermissionDenied,
    ServiceError,
    who_may,
)
from ketadesk.services.followups import actions
from ketadesk.services.monitoring import measurements, records
from ketadesk.services.patients import merge as patient_merge
from ketadesk.services.patients import registration as patient_service
from ketadesk.services.patients.patient_fields import PatientForm
from ketadesk.services.waitlist import entries as waitlist_entries
from ketadesk.store.models import AuditEvent
from tests.clinic_fixtures import (
    CLEARED,
    RIDE_HOME,
    SmallClinic,
    build_small_clinic,
    ready_for_discharge,
)

NOW = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)  # Tuesday 1 Dec 2026, 08:00 local
HOLIDAYS = {dt.date(2026, 12, 25), dt.date(2027, 1, 1), dt.date(2027, 1, 18)}


def _weekdays(first: dt.date) -> Iterator[dt.date]:
    day = first
    while True:
        if day.weekday() < 5 and day not in HOLIDAYS:
            yield day
        day += dt.timedelta(days=1)


@dataclass
class Clinic:
    """The small clinic plus fresh, non-clashing slots for the cases."""

    c: SmallClinic
    _slots: Iterator[tuple[dt.date, str, str, int]] = field(init=False)
    _targets: Iterator[dt.date] = field(init=False)
    _names: Iterator[int] = field(default_factory=itertools.count)
    _starts: dict[int, dt.datetime] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Four infusions a day two hours apart (the nurse starts one at a time), each patient
        # once a day and each in a room of their own (a walk may leave a session in progress,
        # and a room holds one at a time); moves go to days of their own in January.
        self._slots = (
            (day, time, CLEARED[k], k + 1)
            for day in _weekdays(dt.date(2026, 12, 2))
            for k, time in enumerate(("08:00", "10:00", "12:00", "14:00"))
        )
        self._targets = _weekdays(dt.date(2027, 1, 4))

    def session(self, day: dt.date, time: str, room: int = 1) -> PlannedSession:
        return self.c.session(
            "iv_infusion",
            day,
            time,
            {"room": f"Room {room}", "monitor": f"Monitor {room}", "nurse": "Nurse Kim"},
        )

    def request(self, **kw: object) -> BookingRequest:
        day, time, who, room = next(self._slots)
        return BookingRequest(
            patient_id=self.c.ids[who],
            sessions=(self.session(day, time, room),),
            **kw,  # type: ignore[arg-type]
        )

    def appointment(self, *walk: str) -> int:
        """A new booked appointment, taken through ``walk`` (status actions) by the system."""
        request = self.request()
        appt = booking.book(self.c.db, SYSTEM, request, now=NOW).appointment_ids[0]
        self._starts[appt] = request.sessions[0].start
        for action in walk:
            appointment_changes.change_status(
                self.c.db,
                SYSTEM,
                appt,
                action,
                reason="test",
                now=self.now_for(action, appt),
                ride=RIDE_HOME,
            )
        if "start" in walk:  # what completing asks by the chair's rules
            ready_for_discharge(self.c.db, appt)
        return appt

    def now_for(self, action: str, appt: int) -> dt.datetime:
        """When ``action`` is taken: a check-in, start or completion on the session's own day
        (half an hour before it), a no-show half an hour after its start, anything else at
        NOW."""
        if action in ("check_in", "start", "complete"):
            return self._starts[appt] - dt.timedelta(minutes=30)
        if action == "no_show":
            return self._starts[appt] + dt.timedelta(minutes=30)
        return NOW

    def move_target(self) -> PlannedSession:
        return self.session(next(self._targets), "10:00", room=2)

    def name(self) -> str:
        return f"user{next(self._names)}"


@dataclass(frozen=True)
class Case:
    actions: tuple[str, ...]  # the permissions the call needs, in the order it checks them
    call: Callable[[Clinic, Actor], object]
    succeeds: bool = True  # False: an allowed role stops at a later, non-permission check


def _patient(c: Clinic) -> int:
    return c.c.ids["Ada Lovelace"]


CASES: dict[str, Case] = {
    "book": Case(("book",), lambda c, a: booking.book(c.c.db, a, c.request(), now=NOW)),
    "book with a gate override": Case(
        ("book", "override_gate"),
        lambda c, a: booking.book(
            c.c.db, a, c.request(overrides={"driver_arranged": "escort confirmed"}), now=NOW
        ),
    ),
    "move": Case(
        ("move",),
        lambda c, a: appointment_changes.move(c.c.db, a, c.appointment(), c.move_target(), now=NOW),
    ),
    **{
        action: Case(
            (action,),
            lambda c, a, action=action, walk=walk: appointment_changes.change_status(  # type: ignore[misc]
                c.c.db,
                a,
                (appt := c.appointment(*walk)),
                action,
                reason="patient asked",
                now=c.now_for(action, appt),
                ride=RIDE_HOME,
            ),
        )
        for action, walk in (
            ("check_in", ()),
            ("no_show", ()),
            ("cancel", ()),
            ("start", ("check_in",)),
            ("complete", ("check_in", "start")),
        )
    },
    "undo a no-show": Case(
        ("no_show",),
        lambda c, a: appointment_changes.undo_status(c.c.db, a, c.appointment("no_show"), now=NOW),
    ),
    "put a patient on the waitlist": Case(
        ("manage_waitlist",),
        lambda c, a: waitlist_entries.add_entry(
            c.c.db,
            a,
            waitlist_entries.EntryFields(patient_id=_patient(c), session_type="iv_infusion"),
            now=NOW,
        ),
    ),
    "register a patient": Case(
        ("register_patient",),
        lambda c, a: patient_service.register_patient(
            c.c.db,
            a,
            PatientForm(first_name="Test", last_name=c.name().title()),
            now=NOW,
        ),
    ),
    "edit contact details": Case(
        ("edit_patient_contact",),
        lambda c, a: patient_service.update_patient(
            c.c.db,
            a,
            _patient(c),
            dataclasses.replace(
                patient_service.patient_form(c.c.db, SYSTEM, _patient(c)),
                phone=f"(619) 555-{next(c._names):04d}",
            ),
            now=NOW,
        ),
    ),
    "edit clinical facts": Case(
        ("edit_patient_clinical",),
        lambda c, a: patient_service.update_patient(
            c.c.db,
            a,
            _patient(c),
            dataclasses.replace(
                patient_service.patient_form(c.c.db, SYSTEM, _patient(c)),
                rems_patient_id=f"R{next(c._names):05d}",
            ),
            now=NOW,
        ),
    ),
    "work a follow-up": Case(
        ("work_follow_up",),
        lambda c, a: actions.record_attempt(c.c.db, a, 10**9, "reached", now=NOW),
        succeeds=False,  # no such follow-up: NotFound once past the gate
    ),
    "record an adverse event": Case(
        ("record_monitoring",),
        lambda c, a: actions.record_adverse_event(
            c.c.db, a, c.appointment("check_in", "start"), "nausea", now=NOW
        ),
    ),
    "save a monitoring record": Case(
        ("record_monitoring",),
        lambda c, a: records.save_record(
            c.c.db, a, (appt := c.appointment()), records.load_record(c.c.db, SYSTEM, appt), now=NOW
        ),
    ),
    "enter an outcome measure": Case(
        ("enter_measure",),
        lambda c, a: measurements.save_measurement(
            c.c.db, a, _patient(c), "phq9", [1] * 8 + [0], now=NOW
        ),
    ),
    "create a user": Case(
        ("manage_users",),
        lambda c, a: accounts.create_user(
            c.c.db, a, c.name(), "New User", "front_desk", "a long password", now=NOW
        ),
    ),
    "read the audit trail": Case(("view_audit",), lambda c, a: audit_log.audit_events(c.c.db, a)),
    "merge two charts": Case(
        ("merge_patients",),
        lambda c, a: patient_merge.merge_patients(
            c.c.db,
            a,
            _patient(c),
            patient_service.register_patient(
                c.c.db, SYSTEM, PatientForm(first_name="Copy", last_name=c.name().title()), now=NOW
            ),
            now=NOW,
        ),
    ),
}


@pytest.fixture
def clinic(db_url: str) -> Iterator[Clinic]:
    small = build_small_clinic(db_url)
    yield Clinic(small)
    small.db.dispose()


def _refusals(c: Clinic) -> list[AuditEvent]:
    with c.c.db.read() as s:
        rows = list(
            s.scalars(
                select(AuditEvent).where(AuditEvent.action == "refused").order_by(AuditEvent.id)
            )
        )
        s.expunge_all()
        return rows


@pytest.mark.parametrize("name", list(CASES))
def test_each_role_can_do_exactly_what_its_permissions_say(clinic: Clinic, name: str) -> None:
    case = CASES[name]
    outcomes: dict[str, str] = {}
    for role in ROLES:
        actor = Actor(user_id=None, username=f"{role}-user", role=role)
        missing = [a for a in case.actions if role not in PERMISSIONS[a]]
        before = len(_refusals(clinic))
        try:
            case.call(clinic, actor)
            outcomes[role] = "done"
        except PermissionDenied as err:
            outcomes[role] = f"refused {err.action}"
        except ServiceError as err:
            outcomes[role] = "past the gate" if not case.succeeds else f"failed: {err}"
        refusals = _refusals(clinic)
        if not missing and role in OWN_SESSIONS_ONLY and len(refusals) == before + 1:
            # Past the role's gate, stopped by the own-sessions rule (test_own_sessions.py):
            # this actor has no account linked to the session's clinician.
            assert "only their own sessions" in refusals[-1].detail
            outcomes[role] = "done" if case.succeeds else "past the gate"
            continue
        if missing:
            assert len(refusals) == before + 1, f"{role}: the refusal is not audited"
            event = refusals[-1]
            assert event.username == actor.username
            assert event.after == {"action": missing[0], "role": role}
            # In words that say who may (the trial's "frontdesk (front desk) may not
            # override gate" said nothing a person could act on).
            assert event.detail == who_may(missing[0]), event.detail
            assert event.detail.startswith("Only ")
        else:
            assert len(refusals) == before, f"{role} was refused"
    expected = {
        role: (
            f"refused {missing[0]}"
            if (missing := [a for a in case.actions if role not in PERMISSIONS[a]])
            else ("done" if case.succeeds else "past the gate")
        )
        for role in ROLES
    }
    assert outcomes == expected


def test_every_role_is_allowed_something_and_refused_something() -> None:
    # A sanity check on the table itself: no role is locked out, none can do everything.
    checked = {a for case in CASES.values() for a in case.actions}
    for role in ROLES:
        allowed = {a for a in checked if role in PERMISSIONS[a]}
        assert allowed, role
        assert allowed != checked


def test_a_refusal_writes_nothing_but_its_audit_event(clinic: Clinic) -> None:
    def count() -> int:
        with clinic.c.db.read() as s:
            return s.scalar(select(func.count()).select_from(AuditEvent)) or 0

    before = count()
    therapist = Actor(user_id=None, username="sam", role="therapist")
    with pytest.raises(PermissionDenied):
        booking.book(clinic.c.db, therapist, clinic.request(), now=NOW)
    assert count() == before + 1
    (event,) = audit_log.audit_events(clinic.c.db, SYSTEM, action="refused")
    assert event.username == "sam"
