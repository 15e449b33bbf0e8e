"""The units of a prior authorization spent by sessions already given (in progress, completed)
as well as those booked ahead, from the authorization's start date (a renewal counts afresh), a
no-show or a cancelled session spending none: at booking, at the start of a session and on the
day sheet ("PA 5 of 6"), all counted the one way (``scheduling.gating.prior_auth_spends``).

Bayside Test Clinic; the sessions are Spravato at 10:00 on Mondays and Thursdays from the first
open Monday two weeks after the clinic's today (so the tests hold under ``faketime``), booked a
week ahead; "given" sessions get their status set (the chair's own rules are tested elsewhere).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from sqlalchemy import update

from ketadesk.scheduling.availability import describe_day
from ketadesk.scheduling.gating import Severity
from ketadesk.services.booking import appointment_changes, booking
from ketadesk.services.booking.booking import BookingRequest, GateRefused
from ketadesk.services.booking.start_check import StartRefused
from ketadesk.services.clinic.integrity import check_integrity
from ketadesk.services.clinic.integrity_report import Problem
from ketadesk.services.clinic.integrity_rules import RULE_CODE
from ketadesk.services.common.context import SYSTEM, Actor, utcnow
from ketadesk.services.printing.day_sheet import day_sheet
from ketadesk.store.models import Appointment, Patient
from tests.clinic_fixtures import SmallClinic, build_small_clinic, extend_authorizations

SPRAVATO = {
    "room": "Room 1",
    "monitor": "Monitor 1",
    "oximeter": "Oximeter 1",
    "nurse": "Nurse Kim",
    "prescriber": "Dr Patel",
}
FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")
NURSE = Actor(user_id=None, username="kim", role="nurse")
WHO = "Ada Lovelace"
UNITS = 6


@pytest.fixture
def clinic(sqlite_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(sqlite_url)
    yield c
    c.db.dispose()


def session_days(clinic: SmallClinic, count: int) -> list[dt.date]:
    """``count`` open Mondays and Thursdays from two weeks after the clinic's today; the site's
    certification, the prior authorizations and consents valid a year past the last."""
    day = clinic.calendar.local_date(utcnow()) + dt.timedelta(days=14)
    days: list[dt.date] = []
    while len(days) < count:
        if day.weekday() in (0, 3) and clinic.calendar.closed_reason(day) is None:
            days.append(day)
        day += dt.timedelta(days=1)
    extend_authorizations(clinic, days[-1] + dt.timedelta(days=365))
    return days


def book(clinic: SmallClinic, day: dt.date, actor: Actor = SYSTEM, **kw: Any) -> int:
    """One Spravato session at 10:00 on ``day``, booked a week ahead."""
    request = BookingRequest(
        patient_id=clinic.ids[WHO],
        sessions=(clinic.session("spravato", day, "10:00", SPRAVATO),),
        **kw,
    )
    at = clinic.at(day, "08:00") - dt.timedelta(days=7)
    (appointment,) = booking.book(clinic.db, actor, request, now=at).appointment_ids
    return appointment


def set_status(clinic: SmallClinic, ids: Sequence[int], status: str) -> None:
    with clinic.db.write() as s:
        s.execute(update(Appointment).where(Appointment.id.in_(ids)).values(status=status))


def authorize(clinic: SmallClinic, units: int | None, starts_on: dt.date | None) -> None:
    with clinic.db.write() as s:
        s.execute(
            update(Patient)
            .where(Patient.id == clinic.ids[WHO])
            .values(prior_auth_sessions=units, prior_auth_starts_on=starts_on)
        )


def history(clinic: SmallClinic, days: Sequence[dt.date], **statuses: int) -> list[int]:
    """Sessions on ``days`` in order, the first ``completed`` completed, the next ``no_show``
    missed, the next ``cancelled`` cancelled, the rest booked (booked before the authorization
    is entered, as a clinic moving to KetaDesk would have them)."""
    ids = [book(clinic, d) for d in days]
    at = 0
    for status in ("completed", "no_show", "cancelled"):
        n = statuses.get(status, 0)
        set_status(clinic, ids[at : at + n], status)
        at += n
    return ids


def prior_auth_refusal(clinic: SmallClinic, day: dt.date) -> str:
    with pytest.raises(GateRefused) as refused:
        book(clinic, day, FRONT_DESK)
    (result,) = refused.value.results
    assert result.rule == "prior_auth_valid"
    assert result.severity is Severity.WARN
    return result.message


def test_six_given_spend_six_units_the_seventh_booking_warns_naming_them(
    db_url: str,
) -> None:
    clinic = build_small_clinic(db_url)
    try:
        days = session_days(clinic, UNITS + 1)
        history(clinic, days[:UNITS], completed=UNITS)
        authorize(clinic, UNITS, days[0])
        message = prior_auth_refusal(clinic, days[UNITS])
        assert message == (
            "prior authorization covers 0 more; 1 session planned; 6 units spent by sessions given"
        )
        # A nurse may go ahead with a reason (the rule warns).
        assert book(clinic, days[UNITS], NURSE, overrides={"prior_auth_valid": "renewal filed"})
    finally:
        clinic.db.dispose()


def test_four_given_and_two_booked_leave_none_for_a_seventh(clinic: SmallClinic) -> None:
    days = session_days(clinic, UNITS + 1)
    history(clinic, days[:UNITS], completed=4)
    authorize(clinic, UNITS, days[0])
    message = prior_auth_refusal(clinic, days[UNITS])
    assert message.startswith("prior authorization covers 0 more; 1 session planned")
    assert "4 units spent by sessions given" in message
    assert "start date" not in message


def test_a_session_given_before_the_authorization_starts_spends_none_of_it(
    clinic: SmallClinic,
) -> None:
    days = session_days(clinic, UNITS + 2)
    history(clinic, days[: UNITS + 1], completed=UNITS + 1)
    # A renewal from the second session: the first was an earlier authorization's.
    authorize(clinic, UNITS + 1, days[1])
    assert book(clinic, days[UNITS + 1], FRONT_DESK)


def test_without_a_start_date_every_session_given_counts_and_the_warning_says_so(
    clinic: SmallClinic,
) -> None:
    days = session_days(clinic, UNITS + 1)
    history(clinic, days[:UNITS], completed=UNITS)
    authorize(clinic, UNITS, None)
    message = prior_auth_refusal(clinic, days[UNITS])
    assert "6 units spent by sessions given" in message
    assert "no prior authorization start date on file" in message


def test_a_no_show_or_a_cancelled_session_spends_nothing(clinic: SmallClinic) -> None:
    days = session_days(clinic, UNITS + 2)
    history(clinic, days[: UNITS + 1], completed=UNITS - 1, no_show=1, cancelled=1)
    authorize(clinic, UNITS, days[0])
    assert book(clinic, days[UNITS + 1], FRONT_DESK)


def test_the_day_sheet_counts_the_sessions_given_up_to_the_days_own(clinic: SmallClinic) -> None:
    days = session_days(clinic, UNITS)
    ids = history(clinic, days, completed=5)
    authorize(clinic, UNITS, days[0])
    sheet = day_sheet(clinic.db, days[4], now=clinic.at(days[4], "17:00"))
    (fifth,) = [s for g in sheet.groups for s in g.sessions if s.appointment_id == ids[4]]
    assert fifth.prior_auth == "PA 5 of 6 (exp " + _month_day(clinic, days[4]) + ")"
    assert fifth.prior_auth_problem == ""
    assert fifth.gate_warnings == ()
    # In progress, the day's session still reads the same; the one after it is the 6th.
    set_status(clinic, [ids[4]], "in_progress")
    sheet = day_sheet(clinic.db, days[4], now=clinic.at(days[4], "10:30"))
    (fifth,) = [s for g in sheet.groups for s in g.sessions if s.appointment_id == ids[4]]
    assert fifth.prior_auth.startswith("PA 5 of 6 ")
    sheet = day_sheet(clinic.db, days[5], now=clinic.at(days[5], "08:00"))
    (sixth,) = [s for g in sheet.groups for s in g.sessions if s.appointment_id == ids[5]]
    assert sixth.prior_auth.startswith("PA 6 of 6 ")
    assert sixth.prior_auth_problem == ""


def _month_day(clinic: SmallClinic, sheet_day: dt.date) -> str:
    with clinic.db.read() as s:
        expires = s.get(Patient, clinic.ids[WHO])
        assert expires is not None
        assert expires.prior_auth_expires_on is not None
        day = expires.prior_auth_expires_on
    text = f"{day.month}/{day.day}"
    return text if day.year == sheet_day.year else f"{text}/{day.year}"


def test_the_start_of_the_sixth_passes_and_of_the_seventh_warns_when_six_were_given(
    clinic: SmallClinic,
) -> None:
    days = session_days(clinic, UNITS + 1)
    ids = history(clinic, days, completed=UNITS - 1)
    authorize(clinic, UNITS, days[0])

    def start(n: int) -> None:
        appointment_changes.change_status(
            clinic.db, NURSE, ids[n], "start", now=clinic.at(days[n], "10:00")
        )

    start(UNITS - 1)
    set_status(clinic, [ids[UNITS - 1]], "completed")
    with pytest.raises(StartRefused) as refused:
        start(UNITS)
    assert refused.value.overridable
    (finding,) = refused.value.findings
    assert finding.rule == "prior_auth_valid"
    assert "covers 0 more" in finding.message
    assert "6 units spent by sessions given" in finding.message


def test_ketadesk_check_counts_the_sessions_given_before_the_booked_ones(
    clinic: SmallClinic,
) -> None:
    days = session_days(clinic, UNITS + 1)
    history(clinic, days, completed=UNITS - 1)
    authorize(clinic, UNITS, days[0])
    # (the rules' warnings: the history, written around the services, also owes REMS forms)
    (warning,) = [w.message for w in _rule_warnings(clinic)]
    assert "[prior_auth_valid]" in warning
    assert "covers 1 more; 2 sessions planned" in warning
    assert f"({describe_day(days[UNITS])} not covered)" in warning
    # Within the units once the renewal's start leaves out the first session given.
    authorize(clinic, UNITS, days[1])
    assert _rule_warnings(clinic) == []


def _rule_warnings(clinic: SmallClinic) -> list[Problem]:
    return [w for w in check_integrity(clinic.db).warnings if w.code == RULE_CODE]
