"""The waitlist on a real clinic (SQLite and PostgreSQL): entries added, edited and taken off,
and a place freed by a cancellation or a move offered to the matching entry and booked.

Time is injected: "now" is a Tuesday morning, and the freed place is the next day.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from ketadesk.scheduling.waitlist import FreedPlace
from ketadesk.services.booking import appointment_changes, booking
from ketadesk.services.common.context import (
    Actor,
    InvalidFields,
    InvalidRequest,
    PermissionDenied,
    ServiceError,
)
from ketadesk.services.waitlist import entries, offers
from ketadesk.store import changes
from ketadesk.store.models import Appointment, AuditEvent, Patient, WaitlistEntry
from tests.clinic_fixtures import SmallClinic, build_small_clinic

#: Tuesday 24 November 2026, 10:15 at the clinic.
NOW = dt.datetime(2026, 11, 24, 18, 15, tzinfo=dt.UTC)
FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")
NURSE = Actor(user_id=None, username="kim", role="nurse")
IV_ROOM_1 = {"room": "Room 1", "monitor": "Monitor 1", "nurse": "Nurse Kim"}


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(db_url)
    yield c
    c.db.dispose()


def _tomorrow(clinic: SmallClinic) -> dt.date:
    day = clinic.calendar.local_date(NOW) + dt.timedelta(days=1)
    while clinic.calendar.closed_reason(day) is not None:
        day += dt.timedelta(days=1)
    return day


def _book_ada(clinic: SmallClinic, hhmm: str = "10:00") -> int:
    planned = clinic.session("iv_infusion", _tomorrow(clinic), hhmm, IV_ROOM_1)
    result = booking.book(
        clinic.db,
        FRONT_DESK,
        booking.BookingRequest(patient_id=clinic.ids["Ada Lovelace"], sessions=(planned,)),
        now=NOW,
    )
    return result.appointment_ids[0]


def _wish(clinic: SmallClinic, patient: str, **kw: object) -> int:
    fields = entries.EntryFields(
        patient_id=clinic.ids[patient],
        session_type="iv_infusion",
        **kw,  # type: ignore[arg-type]
    )
    return entries.add_entry(clinic.db, FRONT_DESK, fields, now=NOW)


def _count(clinic: SmallClinic, model: type) -> int:
    with clinic.db.read() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_a_cancellation_is_offered_to_the_matching_entry_which_is_booked(
    clinic: SmallClinic,
) -> None:
    ada = _book_ada(clinic)
    day = _tomorrow(clinic)
    weekday = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[day.weekday()]
    mary = _wish(
        clinic,
        "Mary Seacole",
        weekdays=(weekday,),
        available_from=dt.time(9, 30),
        available_until=dt.time(12, 30),
        deadline=day + dt.timedelta(days=7),
    )
    _wish(clinic, "Rosalind Franklin", weekdays=("sat",))  # never that day
    _wish(clinic, "Florence Nightingale", available_from=dt.time(15, 0))  # afternoons only
    before = offers.offers_for_freed(clinic.db, ada, now=NOW)
    assert before.offers == ()  # nothing freed yet
    appointment_changes.change_status(
        clinic.db, FRONT_DESK, ada, "cancel", reason="patient is unwell", now=NOW
    )
    found = offers.offers_for_freed(clinic.db, ada, now=NOW)
    assert [o.entry_id for o in found.offers] == [mary]
    offer = found.offers[0]
    assert offer.session.start == clinic.at(day, "10:00")
    assert offer.room_name == "Room 1"
    assert "10:00" in found.freed_text

    counter = _count_changes(clinic)
    booked = offers.book_offer(clinic.db, FRONT_DESK, offer, now=NOW)
    assert "Mary" in booked.call_text
    assert "Call" in booked.call_text
    with clinic.db.read() as s:
        appointment = s.get(Appointment, booked.appointment_id)
        entry = s.get(WaitlistEntry, mary)
        assert appointment is not None
        assert entry is not None
        assert appointment.patient_id == clinic.ids["Mary Seacole"]
        assert appointment.status == "booked"
        assert entry.status == "booked"
        assert entry.appointment_id == booked.appointment_id
        actions = set(
            s.scalars(select(AuditEvent.action).where(AuditEvent.entity == "waitlist_entry"))
        )
    assert {"add_waitlist_entry", "waitlist_booked"} <= actions
    assert _count_changes(clinic) > counter
    # Taken: the place is not offered again, and the list no longer shows Mary waiting.
    assert offers.offers_for_freed(clinic.db, ada, now=NOW).offers == ()
    waiting = entries.list_entries(clinic.db, now=NOW)
    assert mary not in [r.id for r in waiting]


def _count_changes(clinic: SmallClinic) -> int:
    return changes.change_counter(clinic.db)


def test_a_move_offers_the_place_it_left(clinic: SmallClinic) -> None:
    ada = _book_ada(clinic)
    mary = _wish(clinic, "Mary Seacole", available_until=dt.time(12, 0))
    later = clinic.session("iv_infusion", _tomorrow(clinic), "16:00", IV_ROOM_1)
    appointment_changes.move(clinic.db, FRONT_DESK, ada, later, reason="asked", now=NOW)
    found = offers.offers_for_freed(clinic.db, ada, now=NOW)
    assert [o.entry_id for o in found.offers] == [mary]
    assert found.offers[0].room_name == "Room 1"


def test_a_patient_the_gates_stop_is_not_offered_the_place_and_is_told_why(
    clinic: SmallClinic,
) -> None:
    ada = _book_ada(clinic)
    grace = _wish(clinic, "Grace Hopper")  # screening pending
    appointment_changes.change_status(clinic.db, FRONT_DESK, ada, "cancel", reason="x", now=NOW)
    found = offers.offers_for_freed(clinic.db, ada, now=NOW)
    assert found.offers == ()
    (unable,) = found.unable
    assert unable.entry_id == grace
    assert unable.patient_name == "Hopper, Grace"
    assert "screening" in unable.reason_text.lower()


def test_a_patient_who_has_a_dose_that_morning_is_not_offered_and_the_next_one_is(
    clinic: SmallClinic,
) -> None:
    """Ada has her infusion at 08:00; Mary's 13:00 infusion in Room 2 is cancelled.  Ada's
    entry would rank first (her deadline is nearest), but a second dosing session that day is
    more than the clinic allows: the booking would refuse her, so the offer does not make her
    the choice; it says why, in the booking's words, and offers Rosalind."""
    day = _tomorrow(clinic)
    _book_ada(clinic, "08:00")
    mary = booking.book(
        clinic.db,
        FRONT_DESK,
        booking.BookingRequest(
            patient_id=clinic.ids["Mary Seacole"],
            sessions=(
                clinic.session(
                    "iv_infusion",
                    day,
                    "13:00",
                    {"room": "Room 2", "monitor": "Monitor 2", "nurse": "Nurse Kim"},
                ),
            ),
        ),
        now=NOW,
    ).appointment_ids[0]
    ada_waits = _wish(clinic, "Ada Lovelace", deadline=day)
    rosalind = _wish(clinic, "Rosalind Franklin")
    appointment_changes.change_status(clinic.db, FRONT_DESK, mary, "cancel", reason="x", now=NOW)
    found = offers.offers_for_freed(clinic.db, mary, now=NOW)
    assert [o.entry_id for o in found.offers] == [rosalind]
    assert found.offers[0].session.start == clinic.at(day, "13:00")
    assert found.offers[0].room_name == "Room 2"
    (unable,) = found.unable
    assert unable.entry_id == ada_waits
    limit = clinic.catalog.settings.dosing_sessions_per_patient_day
    assert f"the patient would have {limit + 1} dosing sessions on" in unable.reason_text
    # The words are the booking's own: booking her there is refused the same way.
    with pytest.raises(ServiceError, match=f"would have {limit + 1} dosing sessions"):
        booking.book(
            clinic.db,
            FRONT_DESK,
            booking.BookingRequest(
                patient_id=clinic.ids["Ada Lovelace"], sessions=(found.offers[0].session,)
            ),
            now=NOW,
        )


def test_the_freed_place_is_offered_as_it_came_free_and_the_others_are_told_why(
    clinic: SmallClinic,
) -> None:
    """Ada's 10:00 infusion in Room 1 is cancelled; Rooms 2 to 4 are free all day.  Nobody is
    offered another room or another time: who can come only later, or only to Room 3, is
    told why the freed place does not suit them."""
    ada = _book_ada(clinic)
    later = _wish(clinic, "Mary Seacole", available_from=dt.time(10, 30))
    room_3 = _wish(clinic, "Rosalind Franklin", room_ids=(clinic.ids["Room 3"],))
    anyone = _wish(clinic, "Florence Nightingale")
    appointment_changes.change_status(clinic.db, FRONT_DESK, ada, "cancel", reason="x", now=NOW)
    found = offers.offers_for_freed(clinic.db, ada, now=NOW)
    (offer,) = found.offers
    assert offer.entry_id == anyone
    assert offer.session.start == clinic.at(_tomorrow(clinic), "10:00")
    assert offer.room_name == "Room 1"
    assert {u.entry_id: u.reason_text for u in found.unable} == {
        later: "asks for 10:30–closing; the session would run 10:00–11:40",
        room_3: "asks for Room 3 only",
    }


def test_booking_an_offer_re_checks_the_gates(clinic: SmallClinic) -> None:
    """What changed after the offer was read (Mary's consent withdrawn) still stops "Book"."""
    ada = _book_ada(clinic)
    mary = _wish(clinic, "Mary Seacole")
    appointment_changes.change_status(clinic.db, FRONT_DESK, ada, "cancel", reason="x", now=NOW)
    (offer,) = offers.offers_for_freed(clinic.db, ada, now=NOW).offers
    assert offer.entry_id == mary
    with clinic.db.write() as s:
        patient = s.get(Patient, clinic.ids["Mary Seacole"])
        assert patient is not None
        patient.consent_signed_on = None
    appointments = _count(clinic, Appointment)
    with pytest.raises(ServiceError, match=r"(?i)consent"):
        offers.book_offer(clinic.db, FRONT_DESK, offer, now=NOW)
    assert _count(clinic, Appointment) == appointments
    with clinic.db.read() as s:
        entry = s.get(WaitlistEntry, mary)
        assert entry is not None
        assert entry.status == "waiting"


def test_bad_fields_are_named_and_nothing_is_saved(clinic: SmallClinic) -> None:
    today = clinic.calendar.local_date(NOW)
    fields = entries.EntryFields(
        patient_id=clinic.ids["Ada Lovelace"],
        session_type="no_such_type",
        weekdays=("mon", "someday"),
        available_from=dt.time(12, 0),
        available_until=dt.time(11, 0),
        room_ids=(clinic.ids["Nurse Kim"],),
        deadline=today - dt.timedelta(days=1),
    )
    with pytest.raises(InvalidFields) as err:
        entries.add_entry(clinic.db, FRONT_DESK, fields, now=NOW)
    assert set(err.value.errors) == {
        "session_type",
        "weekdays",
        "available_until",
        "rooms",
        "deadline",
    }
    assert _count(clinic, WaitlistEntry) == 0


def test_the_front_desk_edits_and_removes_a_nurse_may_not(clinic: SmallClinic) -> None:
    entry = _wish(clinic, "Ada Lovelace")
    with pytest.raises(PermissionDenied):
        entries.add_entry(
            clinic.db,
            NURSE,
            entries.EntryFields(patient_id=clinic.ids["Mary Seacole"], session_type="kap"),
            now=NOW,
        )
    (row,) = entries.list_entries(clinic.db, now=NOW)
    changed = dataclasses.replace(row.fields, weekdays=("tue", "thu"), notes="mornings best")
    entries.edit_entry(clinic.db, FRONT_DESK, entry, changed, now=NOW)
    (row,) = entries.list_entries(clinic.db, text="lovelace", now=NOW)
    assert row.weekdays == ("tue", "thu")
    assert row.days_text == "Tue, Thu"
    entries.set_status(clinic.db, FRONT_DESK, entry, "removed", reason="booked elsewhere", now=NOW)
    assert entries.list_entries(clinic.db, now=NOW) == []
    (removed,) = entries.list_entries(clinic.db, statuses=(), now=NOW)
    assert removed.status == "removed"
    with clinic.db.read() as s:
        audit = s.execute(
            select(AuditEvent.action, AuditEvent.before, AuditEvent.after).where(
                AuditEvent.entity == "waitlist_entry"
            )
        ).all()
    by_action = {a: (b, c) for a, b, c in audit}
    assert by_action["edit_waitlist_entry"][1] == {
        "weekdays": ["tue", "thu"],
        "notes": "mornings best",
    }
    assert by_action["waitlist_removed"] == (
        {"status": "waiting", "appointment_id": None},
        {"status": "removed", "appointment_id": None},
    )
    with clinic.db.read() as s:
        refusals = s.scalars(select(AuditEvent.after).where(AuditEvent.entity == "permission"))
        assert {"action": "manage_waitlist", "role": "nurse"} in list(refusals)


def test_an_entry_booked_at_the_desk_is_marked_with_the_next_session(clinic: SmallClinic) -> None:
    entry = _wish(clinic, "Ada Lovelace")
    with pytest.raises(InvalidRequest, match="no IV ketamine infusion booked"):
        entries.mark_booked(clinic.db, FRONT_DESK, entry, now=NOW)
    ada = _book_ada(clinic)
    assert entries.mark_booked(clinic.db, FRONT_DESK, entry, now=NOW) == ada
    (row,) = entries.list_entries(clinic.db, statuses=("booked",), now=NOW)
    assert row.appointment_id == ada


def test_a_stretch_that_came_free_without_a_session_is_offered_too(clinic: SmallClinic) -> None:
    # Time a closure no longer takes, say: no appointment left it.
    mary = _wish(clinic, "Mary Seacole", available_until=dt.time(12, 0))
    day = _tomorrow(clinic)
    place = FreedPlace(
        start=clinic.at(day, "10:00"), end=clinic.at(day, "12:00"), room_id=clinic.ids["Room 3"]
    )
    (offer,) = offers.offers_for_place(clinic.db, place, now=NOW).offers
    assert offer.entry_id == mary
    assert offer.room_name == "Room 3"
    assert offer.session.start == place.start


def _no_driver(clinic: SmallClinic, name: str) -> None:
    with clinic.db.write() as s:
        patient = s.get(Patient, clinic.ids[name])
        assert patient is not None
        patient.driver_name = ""


def test_a_patient_only_warnings_stop_is_offered_with_them_and_booked_with_an_override(
    clinic: SmallClinic,
) -> None:
    """A user trial: Mary, whose only problem is a warn-level gate (no driver on file, which
    the booking dialog lets a nurse override with a reason), could not be booked from the
    offer at all.  She is offered with the warning; "Book" needs the override as the booking
    dialog does: a front-desk account may not give it, a nurse may, and books the offer and
    marks the entry booked with it."""
    from ketadesk.scheduling.gating import Severity
    from ketadesk.store.models import GatingOverride

    ada = _book_ada(clinic)
    mary = _wish(clinic, "Mary Seacole")
    grace = _wish(clinic, "Grace Hopper")  # screening pending: a block, never bookable here
    _no_driver(clinic, "Mary Seacole")
    _no_driver(clinic, "Grace Hopper")
    appointment_changes.change_status(clinic.db, FRONT_DESK, ada, "cancel", reason="x", now=NOW)
    found = offers.offers_for_freed(clinic.db, ada, now=NOW)
    (offer,) = found.offers
    assert offer.entry_id == mary
    assert [(w.rule, w.severity) for w in offer.warnings] == [("driver_arranged", Severity.WARN)]
    assert [u.entry_id for u in found.unable] == [grace]
    assert "screening" in found.unable[0].reason_text.lower()
    appointments = _count(clinic, Appointment)
    with pytest.raises(ServiceError, match="driver_arranged"):
        offers.book_offer(clinic.db, FRONT_DESK, offer, now=NOW)  # no override given
    with pytest.raises(PermissionDenied):
        offers.book_offer(
            clinic.db, FRONT_DESK, offer, overrides={"driver_arranged": "sister"}, now=NOW
        )
    assert _count(clinic, Appointment) == appointments
    booked = offers.book_offer(
        clinic.db,
        NURSE,
        offer,
        overrides={"driver_arranged": "her sister drives her; confirmed by phone"},
        now=NOW,
    )
    with clinic.db.read() as s:
        rules = s.execute(
            select(GatingOverride.rule, GatingOverride.reason).where(
                GatingOverride.appointment_id == booked.appointment_id
            )
        ).all()
        entry = s.get(WaitlistEntry, mary)
        assert entry is not None
        assert entry.status == "booked"
    assert [tuple(r) for r in rules] == [
        ("driver_arranged", "her sister drives her; confirmed by phone")
    ]
