"""The printed call list says what the follow-up queue says (a user trial's list printed Thomas
twice, a page apart, the second "Due Mon 12/7" where the queue said "due by tomorrow", and
left out the voicemail already left): the same calls, the same due words, the calls made, and
a patient's calls together, each saying which of them it is.

Ada Lovelace's IV infusions on Monday 30 November and Tuesday 1 December 2026 each owe a
next-day call; on Tuesday the nurse left a voicemail about Monday's at 08:00 and got no answer
about Tuesday's at 13:00 (each tried again ``[followups] retry_hours`` later), so both calls
are due on Tuesday; Mary Seacole's call about her Monday infusion, tried at 09:00, falls due
between them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from ketadesk.services.booking import appointment_changes, booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.common.context import Actor
from ketadesk.services.followups import actions
from ketadesk.services.followups.queue import follow_up_queue
from ketadesk.services.printing.call_list import call_list, calls_layout
from ketadesk.store.models import FollowUp
from ketadesk.ui.printing.printing import print_pdf
from tests.clinic_fixtures import RIDE_HOME, SmallClinic, build_small_clinic, ready_for_discharge
from tests.pictures import picture_folder
from tests.printing.test_print import pdf_pages

NOW = dt.datetime(2026, 11, 23, 16, 0, tzinfo=dt.UTC)  # the bookings, Monday 23 Nov 08:00
MON, TUE = dt.date(2026, 11, 30), dt.date(2026, 12, 1)
IV = {"room": "Room 2", "monitor": "Monitor 2", "nurse": "Nurse Kim"}
IV_MARY = {"room": "Room 3", "monitor": "Monitor 3", "nurse": "Nurse Kim"}
NURSE = Actor(user_id=None, username="kim", role="nurse")


@pytest.fixture
def clinic(sqlite_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(sqlite_url)
    yield c
    c.db.dispose()


def _infusion(
    clinic: SmallClinic, patient: str, day: dt.date, where: dict[str, str], hhmm: str = "10:00"
) -> int:
    request = BookingRequest(
        patient_id=clinic.ids[patient],
        sessions=(clinic.session("iv_infusion", day, hhmm, where),),
    )
    appointment = booking.book(clinic.db, NURSE, request, now=NOW).appointment_ids[0]
    ready_for_discharge(clinic.db, appointment)
    start = clinic.at(day, hhmm)
    for action, minutes in (("check_in", -5), ("start", 0), ("complete", 150)):
        appointment_changes.change_status(
            clinic.db,
            NURSE,
            appointment,
            action,
            now=start + dt.timedelta(minutes=minutes),
            ride=RIDE_HOME,
        )
    return appointment


def _call_about(clinic: SmallClinic, appointment: int) -> int:
    with clinic.db.read() as session:
        return session.scalars(
            select(FollowUp.id).where(
                FollowUp.appointment_id == appointment, FollowUp.kind == "next_day_call"
            )
        ).one()


def test_a_patients_two_calls_print_together_with_the_queues_words_and_the_calls_made(
    qapp: object, clinic: SmallClinic, tmp_path: Path
) -> None:
    monday = _infusion(clinic, "Ada Lovelace", MON, IV)
    mary = _infusion(clinic, "Mary Seacole", MON, IV_MARY, "13:00")
    tuesday = _infusion(clinic, "Ada Lovelace", TUE, IV)
    first, second = _call_about(clinic, monday), _call_about(clinic, tuesday)
    actions.record_attempt(clinic.db, NURSE, first, "voicemail", now=clinic.at(TUE, "08:00"))
    # Mary's call, tried at 09:00, is due again at 13:00: between Ada's two (12:00 and 17:00).
    marys = _call_about(clinic, mary)
    actions.record_attempt(clinic.db, NURSE, marys, "no_answer", now=clinic.at(TUE, "09:00"))
    actions.record_attempt(clinic.db, NURSE, second, "no_answer", now=clinic.at(TUE, "13:00"))
    now = clinic.at(TUE, "13:05")

    printed = call_list(clinic.db, NURSE, TUE, now=now)
    queue = {i.id: i for i in follow_up_queue(clinic.db, NURSE, now=now).items}
    names = [c.patient_name for c in printed.calls]
    # Ada's calls together (her oldest call is the oldest on the list), then Mary's: in plain
    # order of due times Mary's (13:00) would split them.
    assert names == ["Lovelace, Ada", "Lovelace, Ada", "Seacole, Mary"]
    ada_first, ada_second = printed.calls[0], printed.calls[1]
    assert (ada_first.of_patient, ada_second.of_patient) == ((1, 2), (2, 2))
    assert printed.calls[2].of_patient == (0, 0)
    for entry, fid in ((ada_first, first), (ada_second, second)):
        assert (entry.due_text, entry.countdown, entry.attempts) == (
            queue[fid].due_text,
            queue[fid].countdown,
            queue[fid].attempts_words,
        )
    assert ada_first.attempts == "1 · Left voicemail Tue 08:00"
    assert ada_second.attempts == "1 · No answer Tue 13:00"
    assert ada_second.countdown == "due by tomorrow"  # the trial's queue said it; paper too

    out = picture_folder("calls") / "call-list-two-calls.pdf"
    print_pdf(calls_layout(printed), out)
    text = " ".join(" ".join(pdf_pages(out)).split())
    assert text.count("Lovelace, Ada") == 2
    assert "Call 1 of 2 to this patient on this list" in text
    assert "Call 2 of 2 to this patient on this list" in text
    assert "Calls so far: 1 · Left" in text  # the column wraps "voicemail Tue 08:00"
    assert f"Due {ada_second.due_text}" in text
    assert "due by tomorrow" in text
    assert text.index("Call 2 of 2") < text.index("Seacole, Mary")


def test_the_front_desk_prints_the_calls_it_may_see_and_a_closed_call_is_not_printed(
    qapp: object, clinic: SmallClinic
) -> None:
    monday = _infusion(clinic, "Ada Lovelace", MON, IV)
    call = _call_about(clinic, monday)
    desk = Actor(user_id=None, username="maria", role="front_desk")
    now = clinic.at(TUE, "09:00")
    assert [c.patient_name for c in call_list(clinic.db, desk, TUE, now=now).calls] == [
        "Lovelace, Ada"
    ]
    actions.complete_follow_up(clinic.db, NURSE, call, "Reached, feeling fine", now=now)
    assert call_list(clinic.db, desk, TUE, now=now).calls == ()


def test_the_desk_prints_the_next_business_days_calls_the_evening_before_with_what_to_do_on_a_yes(
    qapp: object, clinic: SmallClinic
) -> None:
    """A trial's desk could print only today's calls, so the next-day calls of today's
    patients (due tomorrow at opening) were on no list the evening before; and the sheet asked
    "thoughts of self-harm?" with no word on what to do on a yes."""
    from ketadesk.services.printing.call_list import next_call_day
    from ketadesk.store.models import ClinicSetting

    monday = _infusion(clinic, "Ada Lovelace", MON, IV)
    evening = clinic.at(MON, "18:00")
    assert next_call_day(clinic.db, now=evening) == TUE
    assert call_list(clinic.db, NURSE, None, now=evening).calls == ()  # today's: none yet
    printed = call_list(clinic.db, NURSE, next_call_day(clinic.db, now=evening), now=evening)
    (entry,) = printed.calls
    assert entry.patient_name == "Lovelace, Ada"
    assert entry.if_yes == "If yes: stay on the line and tell the on-call prescriber now."
    out = picture_folder("calls") / "call-list-next-day.pdf"
    print_pdf(calls_layout(printed), out)
    text = " ".join(" ".join(pdf_pages(out)).split())
    assert "Follow-up calls: Tuesday, December 1, 2026" in text
    assert "thoughts of self-harm?" in text
    assert "If yes: stay on the line and tell the on-call prescriber now." in text

    # The clinic's own words, not a literal.
    with clinic.db.write() as session:
        row = session.get(ClinicSetting, "followups")
        said = {"self_harm_instruction": "If yes: keep them talking; page Dr Patel (ext 12)."}
        if row is None:
            session.add(ClinicSetting(key="followups", value=said))
        else:
            row.value = {**row.value, **said}
    (entry,) = call_list(clinic.db, NURSE, TUE, now=evening).calls
    assert entry.if_yes == "If yes: keep them talking; page Dr Patel (ext 12)."
    assert _call_about(clinic, monday)
