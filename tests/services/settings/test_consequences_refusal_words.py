"""A closure's apply and undo, refused because a session changed meanwhile, name the session
as every refusal does ("Lovelace, Ada's IV ketamine infusion Mon Dec 14 10:00"), never by
its internal number ("appointment #12"), which nobody at the clinic can look up."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from ketadesk.services.booking import booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.booking.move_request import move_appointment
from ketadesk.services.common.context import SYSTEM, InvalidRequest
from ketadesk.services.settings import consequences
from ketadesk.services.settings.availability import Unavailability
from tests.services.settings.availability_clinic import BookedClinic, booked_clinic


@pytest.fixture
def booked(db_url: str) -> Iterator[BookedClinic]:
    b = booked_clinic(db_url)
    yield b
    b.clinic.db.dispose()


def _close_day_of(b: BookedClinic, appointment_id: int) -> consequences.Consequences:
    cal = b.clinic.calendar
    day = b.day_of(appointment_id)
    proposed = Unavailability(
        "closure", cal.at_local(day, 0), cal.at_local(day + dt.timedelta(days=1), 0), "flood"
    )
    return consequences.preview(b.clinic.db, proposed, now=b.now)


def _later_same_day(b: BookedClinic, appointment_id: int, start: dt.datetime) -> None:
    local = b.clinic.calendar.local(start).replace(tzinfo=None)
    move_appointment(b.clinic.db, SYSTEM, appointment_id, local + dt.timedelta(hours=2), now=b.now)


def _says_the_session(message: str) -> None:
    assert "Lovelace, Ada's IV ketamine infusion" in message, message
    assert "#" not in message, message


def test_apply_after_a_session_changed_elsewhere_names_it(booked: BookedClinic) -> None:
    b = booked
    second = b.series[1]
    preview = _close_day_of(b, second)
    _later_same_day(b, second, b.starts()[second])  # another workstation moves it meanwhile
    with pytest.raises(InvalidRequest) as refused:
        consequences.apply(b.clinic.db, SYSTEM, preview, now=b.now)
    _says_the_session(str(refused.value))
    assert str(refused.value).endswith(
        "changed at another workstation; look at the consequences again"
    )


def test_undo_after_a_moved_session_changed_names_it(booked: BookedClinic) -> None:
    b = booked
    second = b.series[1]
    applied = consequences.apply(b.clinic.db, SYSTEM, _close_day_of(b, second), now=b.now)
    _later_same_day(b, second, b.starts()[second])  # moved again after the closure
    with pytest.raises(InvalidRequest) as refused:
        consequences.undo(b.clinic.db, SYSTEM, applied, now=b.now)
    _says_the_session(str(refused.value))
    assert str(refused.value).endswith("has changed since; it cannot be put back")


def test_sessions_booked_into_the_stretch_since_the_preview_are_named(
    booked: BookedClinic,
) -> None:
    b = booked
    second = b.series[1]
    preview = _close_day_of(b, second)
    # Grace Hopper is pencilled in on the closed day, after the preview was made.
    where = {"room": "Room 3", "monitor": "Monitor 3", "nurse": "Nurse Kim"}
    booking.book(
        b.clinic.db,
        SYSTEM,
        BookingRequest(
            patient_id=b.clinic.ids["Grace Hopper"],
            sessions=(b.clinic.session("iv_infusion", b.day_of(second), "14:00", where),),
            tentative=True,
        ),
        now=b.now,
    )
    with pytest.raises(InvalidRequest) as refused:
        consequences.apply(b.clinic.db, SYSTEM, preview, now=b.now)
    message = str(refused.value)
    assert "booked in the stretch since the preview (Hopper, Grace's IV ketamine infusion" in (
        message
    ), message
    assert "#" not in message
