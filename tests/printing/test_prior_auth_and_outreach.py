"""What the printed day sheet and call list owe the front desk, read back from real PDFs
(pdftotext): each prior-authorized session's units in words ("PA 3-4 of 6 (exp 1/8)") counted
as ``prior_auth_valid`` counts them, a session past its units or the expiry flagged; the
dropout outreach call on the call list with what was missed and its deadline; and an urgent
(suicidality) review's reason on neither the call list nor the public day sheet.

Days come from the clinic's today (the series is booked from a Monday two weeks or more ahead;
every change is made at an instant taken from the booked sessions), so the tests pass under
``faketime -f +400d`` too.  SQLite and PostgreSQL (``ketadesk print`` reads a SQLite file with
plain sqlite3, PostgreSQL through SQLAlchemy).
"""

from __future__ import annotations

import datetime as dt
import subprocess
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from ketadesk.cli import main
from ketadesk.scheduling.dates import WEEKDAY_ABBR
from ketadesk.services.booking import appointment_changes, booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.common.context import SYSTEM, Actor, utcnow
from ketadesk.services.followups.queue import follow_up_queue
from ketadesk.services.followups.urgent_reviews import open_or_reopen
from ketadesk.services.printing.call_list import call_list, calls_layout
from ketadesk.services.printing.day_sheet import BY_ROOM, BY_STAFF, day_sheet, day_sheet_layout
from ketadesk.services.settings.clinic_details import clinic_paper_size
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.models import ClinicSetting, FollowUp, Patient
from ketadesk.ui.printing.printing import print_pdf
from tests.clinic_fixtures import SmallClinic, build_small_clinic, extend_authorizations

FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")
SPRAVATO = {
    "room": "Room 2",
    "monitor": "Monitor 2",
    "oximeter": "Oximeter 1",
    "nurse": "Nurse Kim",
    "prescriber": "Dr Patel",
}
#: Mon, Thu, Mon, Thu: twice weekly, as the Spravato induction books.
OFFSETS = (0, 3, 7, 10)
REVIEW_REASON = "PHQ-9 item 9 answered 3 (nearly every day)"


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(db_url)
    yield c
    c.db.dispose()


def _monday(clinic: SmallClinic) -> dt.date:
    """The first Monday two weeks or more after the clinic's today on which every session of
    ``OFFSETS`` falls on an open day."""
    day = clinic.calendar.local_date(utcnow()) + dt.timedelta(days=14)
    day += dt.timedelta(days=(7 - day.weekday()) % 7)
    while any(
        clinic.calendar.closed_reason(day + dt.timedelta(days=o)) is not None for o in OFFSETS
    ):
        day += dt.timedelta(days=7)
    return day


@pytest.fixture
def series(clinic: SmallClinic) -> list[tuple[int, dt.date]]:
    """Ada Lovelace's four Spravato sessions (id, day), booked a week before the first."""
    monday = _monday(clinic)
    extend_authorizations(clinic, monday + dt.timedelta(days=365))
    days = [monday + dt.timedelta(days=o) for o in OFFSETS]
    sessions = tuple(
        clinic.session("spravato", d, "10:00", SPRAVATO, index=n + 1) for n, d in enumerate(days)
    )
    result = booking.book(
        clinic.db,
        SYSTEM,
        BookingRequest(
            patient_id=clinic.ids["Ada Lovelace"], sessions=sessions, protocol="spravato_trd"
        ),
        now=clinic.at(monday, "09:00") - dt.timedelta(days=7),
    )
    return list(zip(result.appointment_ids, days, strict=True))


def _authorize(clinic: SmallClinic, units: int, expires: dt.date, per_session: int) -> None:
    """Ada's authorization: ``units`` to ``expires``; a Spravato session spends
    ``per_session`` of them (``[eligibility.prior_auth_units]``)."""
    with clinic.db.write() as session:
        eligibility = session.get(ClinicSetting, "eligibility")
        assert eligibility is not None
        eligibility.value = {**eligibility.value, "prior_auth_units": {"spravato": per_session}}
        patient = session.get(Patient, clinic.ids["Ada Lovelace"])
        assert patient is not None
        patient.prior_auth_sessions = units
        patient.prior_auth_expires_on = expires
        patient.phone = "555-010-2233"


def _url(clinic: SmallClinic) -> str:
    return clinic.db.engine.url.render_as_string(hide_password=False)


def _text(pdf: Path) -> str:
    """The PDF's text in reading order, on one line (cells wrap where the column is narrow)."""
    out = subprocess.run(
        ["pdftotext", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    return " ".join(unicodedata.normalize("NFKC", out).split())


def _print(clinic: SmallClinic, tmp_path: Path, kind: str, day: dt.date, *extra: str) -> str:
    """``ketadesk print day|calls`` on a SQLite clinic (the day sheet read with plain sqlite3);
    on PostgreSQL the same services in this process (the command leaves its engine to the
    process's exit)."""
    out = tmp_path / f"{kind}-{day.isoformat()}-{'-'.join(extra) or 'plain'}.pdf"
    url = _url(clinic)
    if url.startswith("sqlite"):
        args = ["print", kind, "--db", url, "--date", day.isoformat(), *extra]
        assert main([*args, "--out", str(out)]) == 0
    elif kind == "day":
        by = BY_STAFF if "staff" in extra else BY_ROOM
        sheet = day_sheet(clinic.db, day, by=by, use_initials="--initials" in extra)
        print_pdf(day_sheet_layout(sheet), out, clinic_paper_size(clinic.db))
    else:
        print_pdf(
            calls_layout(call_list(clinic.db, SYSTEM, day)), out, clinic_paper_size(clinic.db)
        )
    return _text(out)


def test_the_day_sheet_says_each_sessions_prior_authorization_units_and_flags_those_past_them(
    qapp: object, clinic: SmallClinic, series: list[tuple[int, dt.date]], tmp_path: Path
) -> None:
    (_, first), (_, second), (_, third), (_, fourth) = series
    # Six units, two a session, to the third session's day: the fourth is past both.
    _authorize(clinic, 6, third, per_session=2)
    exp = f"{third.month}/{third.day}" + ("" if third.year == second.year else f"/{third.year}")

    text = _print(clinic, tmp_path, "day", second)
    assert f"PA 3-4 of 6 (exp {exp})" in text
    # The station's column lists every piece of equipment the chair holds, its monitor first
    # (a trial's sheet left the Spravato session's pulse oximeter out).
    assert "Monitor 2 · Oximeter 1" in text
    assert "past its units" not in text
    assert "past expiry" not in text
    # By clinician too, and on the public sheet (no name, but the station's facts).
    assert f"PA 3-4 of 6 (exp {exp})" in _print(clinic, tmp_path, "day", second, "--by", "staff")
    public = _print(clinic, tmp_path, "day", second, "--initials")
    assert f"PA 3-4 of 6 (exp {exp})" in public
    assert "Lovelace" not in public

    assert f"PA 5-6 of 6 (exp {exp})" in _print(clinic, tmp_path, "day", third)

    flagged = _print(clinic, tmp_path, "day", fourth)
    exp4 = f"{third.month}/{third.day}" + ("" if third.year == fourth.year else f"/{third.year}")
    assert f"PA 7-8 of 6 (exp {exp4}): past its units; past expiry" in flagged
    # The rule's own warning still prints (nobody overrode it).
    assert "prior authorization" in flagged

    # One unit a session: the first session spends unit 1 of 6.
    _authorize(clinic, 6, fourth, per_session=1)
    exp1 = f"{fourth.month}/{fourth.day}" + ("" if fourth.year == first.year else f"/{fourth.year}")
    assert f"PA 1 of 6 (exp {exp1})" in _print(clinic, tmp_path, "day", first)


def test_the_call_list_prints_the_dropout_outreach_call_with_its_deadline_and_no_review_reason(
    qapp: object, clinic: SmallClinic, series: list[tuple[int, dt.date]], tmp_path: Path
) -> None:
    _authorize(clinic, 8, series[-1][1], per_session=1)
    (second, day) = series[1]
    at = clinic.at(day, "10:30")
    appointment_changes.change_status(clinic.db, FRONT_DESK, second, "no_show", now=at)
    with clinic.db.write() as session:
        (call,) = session.scalars(
            select(FollowUp).where(
                FollowUp.appointment_id == second, FollowUp.kind == "outreach_call"
            )
        ).all()
        assert call.deadline_at is not None
        deadline = clinic.calendar.local(call.deadline_at)
        # An urgent review for the same patient: its reason is for the prescriber's screens.
        open_or_reopen(
            session,
            SYSTEM,
            load_catalog(session),
            clinic.ids["Ada Lovelace"],
            None,
            "prescriber",
            REVIEW_REASON,
            now=at,
        )

    text = _print(clinic, tmp_path, "calls", day)
    assert "Lovelace, Ada" in text
    assert "(555) 010-2233" in text  # stored "555-010-2233": the one US phone format
    assert "HIGH" in text
    wd = WEEKDAY_ABBR[day.weekday()]
    assert f"Missed Spravato (esketamine) 2/4 (no-show), {wd} {day.month}/{day.day} 10:00" in text
    # When it is due, in the queue's own words (its Due and When columns, judged as the day
    # starts): a user trial's list said "Due Mon 12/7" where the queue said "due by tomorrow".
    starts = clinic.calendar.day_bounds(day).start
    (queued,) = [
        i for i in follow_up_queue(clinic.db, SYSTEM, now=starts).items if i.kind == "outreach_call"
    ]
    assert queued.due_text.startswith("by ")
    assert f"Due {queued.due_text} {queued.countdown}" in text
    assert "Offer the make-up session" in text
    assert "overdue" not in text
    assert "item 9" not in text
    assert "Urgent review" not in text

    # Still on the list the day after its deadline, overdue.
    late = deadline.date() + dt.timedelta(days=1)
    assert "overdue by 1 day" in _print(clinic, tmp_path, "calls", late)

    # The public day sheet of the review's day prints no reason either.
    public = _print(clinic, tmp_path, "day", day, "--initials")
    assert "item 9" not in public
    assert "Lovelace" not in public
