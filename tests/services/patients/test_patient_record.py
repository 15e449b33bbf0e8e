"""The patient record service: series progress and gaps, history, upcoming, follow-ups, facts.

Bayside Test Clinic (tests/clinic_fixtures.py).  Mary Seacole's IV induction of six infusions:
1-3 done (Mon 16, Wed 18, Fri 20 Nov), 4 a no-show (Mon 23 Nov), 5 done this morning (Tue 24
Nov), 6 booked for Fri 27 Nov.  "Now" is Tuesday 24 November 2026, 14:00 at the clinic.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from ketadesk.services.common.context import Actor, NotFound
from ketadesk.services.patients.patient_record import patient_record
from ketadesk.store.models import (
    Appointment,
    FollowUp,
    GatingOverride,
    Measurement,
    Patient,
    Protocol,
    Series,
    SessionType,
)
from tests.clinic_fixtures import SmallClinic, build_small_clinic

NOW = dt.datetime(2026, 11, 24, 22, 0, tzinfo=dt.UTC)  # 14:00 in the clinic (PST)
NURSE = Actor(user_id=None, username="kim", role="nurse")
FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")
MON16, WED18, FRI20 = dt.date(2026, 11, 16), dt.date(2026, 11, 18), dt.date(2026, 11, 20)
MON23, TUE24, FRI27 = dt.date(2026, 11, 23), dt.date(2026, 11, 24), dt.date(2026, 11, 27)

IV_PLAN = [  # (index, day, status)
    (1, MON16, "completed"),
    (2, WED18, "completed"),
    (3, FRI20, "completed"),
    (4, MON23, "no_show"),
    (5, TUE24, "completed"),
    (6, FRI27, "booked"),
]


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    """The clinic on SQLite, and on PostgreSQL when KETADESK_TEST_PG_URL is set."""
    c = build_small_clinic(db_url)
    yield c
    c.db.dispose()


def _add(
    clinic: SmallClinic,
    patient: str,
    code: str,
    day: dt.date,
    hhmm: str,
    status: str,
    *,
    series: int | None = None,
    index: int | None = None,
    room: str | None = "Room 1",
) -> int:
    with clinic.db.write() as session:
        type_id = session.scalar(select(SessionType.id).where(SessionType.code == code))
        start = clinic.at(day, hhmm)
        minutes = clinic.catalog.session_types[code].total_minutes
        a = Appointment(
            patient_id=clinic.ids[patient],
            series_id=series,
            series_index=index,
            session_type_id=type_id,
            room_id=clinic.ids[room] if room else None,
            starts_at=start,
            ends_at=start + dt.timedelta(minutes=minutes),
            status=status,
        )
        session.add(a)
        session.flush()
        return a.id


def _series(clinic: SmallClinic, patient: str, protocol: str, count: int) -> int:
    with clinic.db.write() as session:
        protocol_id = session.scalar(select(Protocol.id).where(Protocol.code == protocol))
        assert protocol_id is not None
        s = Series(patient_id=clinic.ids[patient], protocol_id=protocol_id, planned_count=count)
        session.add(s)
        session.flush()
        return s.id


def _iv_series(clinic: SmallClinic) -> tuple[int, dict[int, int]]:
    series = _series(clinic, "Mary Seacole", "iv_induction", 6)
    ids = {
        index: _add(
            clinic, "Mary Seacole", "iv_infusion", day, "09:00", status, series=series, index=index
        )
        for index, day, status in IV_PLAN
    }
    return series, ids


def test_series_progress_counts_done_missed_and_the_next_session(clinic: SmallClinic) -> None:
    series, ids = _iv_series(clinic)
    record = patient_record(clinic.db, NURSE, clinic.ids["Mary Seacole"], now=NOW)
    (progress,) = record.series
    assert progress.series_id == series
    assert progress.protocol == "iv_induction"
    assert (progress.done, progress.missed, progress.cancelled, progress.booked) == (4, 1, 0, 1)
    assert progress.next_start is not None
    assert progress.next_start.date() == FRI27
    assert progress.summary == "4 of 6 done, 1 missed, next Fri Nov 27"
    assert [s.series_index for s in progress.sessions] == [1, 2, 3, 4, 5, 6]
    assert progress.sessions[3].status_label == "No-show"
    # History most recent first (this morning's session is past), upcoming soonest first.
    assert [s.appointment_id for s in record.history] == [ids[i] for i in (5, 4, 3, 2, 1)]
    assert [s.appointment_id for s in record.upcoming] == [ids[6]]
    assert record.history[0].series_label == "5/6"
    assert record.history[0].start.utcoffset() == dt.timedelta(hours=-8)  # clinic time


def test_a_missed_session_shows_as_a_gap_against_the_protocol(clinic: SmallClinic) -> None:
    _iv_series(clinic)
    (progress,) = patient_record(clinic.db, NURSE, clinic.ids["Mary Seacole"], now=NOW).series
    described = [g.description for g in progress.gaps]
    assert described[:2] == ["1 → 2: 2 days", "2 → 3: 2 days"]
    gap = progress.gaps[2]
    assert (gap.from_index, gap.to_index, gap.days, gap.missed) == (3, 5, 4, (4,))
    assert not gap.within_rule
    assert gap.description == "3 → 5: 4 days, no session 4 (Induction asks for 1-5 days)"
    last = progress.gaps[3]
    assert (last.from_index, last.to_index, last.days, last.within_rule) == (5, 6, 3, True)
    assert progress.gaps_outside_rule == (gap,)


def test_a_gap_too_wide_and_a_late_integration_are_named(clinic: SmallClinic) -> None:
    iv = _series(clinic, "Mary Seacole", "iv_induction", 6)
    _add(clinic, "Mary Seacole", "iv_infusion", MON16, "09:00", "completed", series=iv, index=1)
    _add(clinic, "Mary Seacole", "iv_infusion", FRI27, "09:00", "booked", series=iv, index=2)
    kap = _series(clinic, "Ada Lovelace", "kap_program", 8)
    _add(clinic, "Ada Lovelace", "kap", MON16, "09:00", "completed", series=kap, index=3)
    _add(
        clinic,
        "Ada Lovelace",
        "integration",
        FRI20,
        "10:00",
        "completed",
        series=kap,
        index=4,
        room="Office A",
    )
    (iv_progress,) = patient_record(clinic.db, NURSE, clinic.ids["Mary Seacole"], now=NOW).series
    (wide,) = iv_progress.gaps
    assert wide.days == 11
    assert not wide.within_rule
    assert wide.description == "1 → 2: 11 days, too far apart (Induction asks for 1-5 days)"
    (kap_progress,) = patient_record(clinic.db, NURSE, clinic.ids["Ada Lovelace"], now=NOW).series
    (late,) = kap_progress.gaps
    assert (late.from_index, late.to_index, late.days) == (3, 4, 4)
    assert late.description == "3 → 4: 4 days, too far apart (1-3 days after its session)"


def test_open_follow_ups_and_recent_measures(clinic: SmallClinic) -> None:
    _, ids = _iv_series(clinic)
    patient = clinic.ids["Mary Seacole"]
    with clinic.db.write() as session:
        for kind, due, status in (
            ("next_day_call", clinic.at(MON23, "10:00"), "open"),  # overdue
            ("booster_review", clinic.at(dt.date(2026, 12, 14), "09:00"), "open"),
            ("next_day_call", clinic.at(FRI20, "10:00"), "done"),  # left out
        ):
            session.add(
                FollowUp(
                    patient_id=patient,
                    appointment_id=ids[3],
                    kind=kind,
                    due_at=due,
                    assignee_role="nurse",
                    status=status,
                )
            )
        for score, day in ((19, MON16), (14, WED18), (9, TUE24)):
            session.add(
                Measurement(
                    patient_id=patient,
                    instrument="phq9",
                    score=score,
                    items=[],
                    taken_at=clinic.at(day, "08:45"),
                )
            )
        session.add(
            Measurement(
                patient_id=patient,
                instrument="gad7",
                score=8,
                items=[],
                taken_at=clinic.at(MON16, "08:50"),
            )
        )
    record = patient_record(clinic.db, NURSE, patient, now=NOW)
    assert [(f.kind, f.overdue) for f in record.follow_ups] == [
        ("next_day_call", True),
        ("booster_review", False),
    ]
    assert record.follow_ups[0].kind_label  # in words, not the code
    assert record.follow_ups[0].session == "IV ketamine infusion, Fri Nov 20"
    assert [(m.instrument, m.score) for m in record.measures] == [
        ("phq9", 9),
        ("phq9", 14),
        ("gad7", 8),
        ("phq9", 19),
    ]
    assert record.instruments == ("phq9", "gad7")


def test_gating_facts_and_what_blocks_the_next_dosing_session(clinic: SmallClinic) -> None:
    _iv_series(clinic)
    patient = clinic.ids["Mary Seacole"]
    record = patient_record(clinic.db, NURSE, patient, now=NOW)
    facts = {f.label: f for f in record.gating}
    assert facts["Screening"].value == "Cleared Jan 5, 2026"
    assert facts["Screening"].ok
    assert facts["Consent"].ok
    assert facts["Driver"].ok
    assert record.gate_problems == ()

    with clinic.db.write() as session:
        p = session.get(Patient, patient)
        assert p is not None
        p.consent_signed_on = None
        p.driver_name = ""
    record = patient_record(clinic.db, NURSE, patient, now=NOW)
    facts = {f.label: f for f in record.gating}
    assert facts["Consent"].value == "Not on file"
    assert facts["Consent"].ok is False
    assert facts["Driver"].value == "None arranged"
    assert facts["Driver"].ok is False
    assert "no signed informed consent on file" in record.gate_problems
    assert any(p.startswith("no driver or escort arranged") for p in record.gate_problems)

    # A clinician went ahead without a driver on file, with a reason: no longer open.
    series_id = record.series[0].series_id
    with clinic.db.write() as session:
        session.add(
            GatingOverride(series_id=series_id, rule="driver_arranged", reason="Takes a taxi")
        )
    record = patient_record(clinic.db, NURSE, patient, now=NOW)
    assert record.gate_problems == ("no signed informed consent on file",)


def test_facts_the_patients_sessions_do_not_need_are_not_marked_wrong(
    clinic: SmallClinic,
) -> None:
    _iv_series(clinic)  # IV only: no REMS, no prior authorization needed
    patient = clinic.ids["Mary Seacole"]
    with clinic.db.write() as session:
        p = session.get(Patient, patient)
        assert p is not None
        p.rems_enrolled_on = None
        p.prior_auth_expires_on = None
    facts = {f.label: f for f in patient_record(clinic.db, NURSE, patient, now=NOW).gating}
    assert facts["REMS"].value == "Not enrolled"
    assert facts["REMS"].ok is None
    assert facts["Prior authorization"].ok is None


def test_unknown_patient(clinic: SmallClinic) -> None:
    with pytest.raises(NotFound, match="patient #999999 does not exist"):
        patient_record(clinic.db, NURSE, 999999, now=NOW)


def test_a_patient_with_no_sessions(clinic: SmallClinic) -> None:
    record = patient_record(clinic.db, NURSE, clinic.ids["Grace Hopper"], now=NOW)
    assert record.series == ()
    assert record.history == ()
    assert record.upcoming == ()
    assert record.patient.chart_number == "BT-2"
    screening = next(f for f in record.gating if f.label == "Screening")
    assert screening.value == "Pending"
    assert screening.ok is False


def test_contacts_phones_read_as_everywhere_else(clinic: SmallClinic) -> None:
    """A user trial: the record showed "Emergency: Ana Lopez, 5105550151" where the form and
    the day sheet say "(510) 555-0151"."""
    with clinic.db.write() as session:
        grace = session.get(Patient, clinic.ids["Grace Hopper"])
        assert grace is not None
        grace.emergency_contact_name, grace.emergency_contact_phone = "Ana Lopez", "5105550151"
        grace.driver_name, grace.driver_phone = "Sam Hopper", "+44 20 7946 0958"
    details = patient_record(clinic.db, NURSE, clinic.ids["Grace Hopper"], now=NOW).patient
    assert details.emergency_contact == "Ana Lopez, (510) 555-0151"
    assert details.driver == "Sam Hopper, +44 20 7946 0958"  # international: as typed


@pytest.mark.parametrize(("status", "overdue"), [("booked", False), ("checked_in", True)])
def test_a_phq9_is_overdue_on_the_record_only_once_its_patient_is_in(
    clinic: SmallClinic, status: str, overdue: bool
) -> None:
    """Ada's 13:30 Spravato session, at 14:00: her PHQ-9 (due at its start) waits for her
    check-in while she has not arrived, and is late once she is in (a front-desk trial saw it
    overdue before the patient had come)."""
    appointment = _add(clinic, "Ada Lovelace", "spravato", TUE24, "13:30", status)
    with clinic.db.write() as session:
        session.add(
            FollowUp(
                patient_id=clinic.ids["Ada Lovelace"],
                appointment_id=appointment,
                kind="phq9",
                due_at=clinic.at(TUE24, "13:30"),
                deadline_at=clinic.at(TUE24, "13:30"),
                assignee_role="nurse",
                status="open",
            )
        )
    record = patient_record(clinic.db, NURSE, clinic.ids["Ada Lovelace"], now=NOW)
    assert [(f.kind, f.overdue) for f in record.follow_ups] == [("phq9", overdue)]


def test_the_front_desk_sees_the_calls_owed_but_no_clinical_follow_up(clinic: SmallClinic) -> None:
    """As on its queue (``followup_rules.listed_without_clinical``): a user trial's front desk
    read the patient's PHQ-9 items in the record's Open follow-ups."""
    _, ids = _iv_series(clinic)
    patient = clinic.ids["Mary Seacole"]
    with clinic.db.write() as session:
        for kind in ("next_day_call", "phq9", "rems_form"):
            session.add(
                FollowUp(
                    patient_id=patient,
                    appointment_id=ids[3],
                    kind=kind,
                    due_at=clinic.at(dt.date(2026, 12, 14), "09:00"),
                    assignee_role="nurse",
                    status="open",
                )
            )
    seen_by_nurse = {f.kind for f in patient_record(clinic.db, NURSE, patient, now=NOW).follow_ups}
    assert {"next_day_call", "phq9", "rems_form"} <= seen_by_nurse
    desk = patient_record(clinic.db, FRONT_DESK, patient, now=NOW)
    assert "next_day_call" in {f.kind for f in desk.follow_ups}
    assert not {"phq9", "rems_form"} & {f.kind for f in desk.follow_ups}


def test_a_call_due_this_morning_is_due_today_not_overdue_as_on_the_queue(
    clinic: SmallClinic,
) -> None:
    """A user trial read the same schedule-change call "due today" on the queue and "(overdue)"
    on the record: the record now judges as the queue does (``followup_rules.section_of``)."""
    _, ids = _iv_series(clinic)
    patient = clinic.ids["Mary Seacole"]
    today = NOW.astimezone(ZoneInfo(clinic.catalog.settings.timezone)).date()
    with clinic.db.write() as session:
        for due in (clinic.at(today, "07:00"), clinic.at(today - dt.timedelta(days=1), "09:00")):
            session.add(
                FollowUp(
                    patient_id=patient,
                    appointment_id=ids[3],
                    kind="schedule_change",
                    due_at=due,
                    assignee_role="front_desk",
                    status="open",
                )
            )
    record = patient_record(clinic.db, NURSE, patient, now=NOW)
    assert [f.overdue for f in record.follow_ups if f.kind == "schedule_change"] == [True, False]


def test_an_open_follow_up_is_due_in_the_queues_own_words(clinic: SmallClinic) -> None:
    """A trial's record said "Tue Dec 8 — REMS monitoring form" where the queue and the paper
    said "by end of Tue Dec 15": the record says what the queue's Due column says."""
    from ketadesk.services.followups.queue import follow_up_queue

    _, ids = _iv_series(clinic)
    patient = clinic.ids["Mary Seacole"]
    due = NOW - dt.timedelta(hours=2)
    last_day = clinic.calendar.local_date(NOW) + dt.timedelta(days=7)
    deadline = clinic.calendar.day_bounds(last_day).end  # midnight: the end of the day
    with clinic.db.write() as session:
        session.add(
            FollowUp(
                patient_id=patient,
                appointment_id=ids[3],
                kind="rems_form",
                due_at=due,
                deadline_at=deadline,
                assignee_role="nurse",
                status="open",
            )
        )
    record = patient_record(clinic.db, NURSE, patient, now=NOW)
    (form,) = [f for f in record.follow_ups if f.kind == "rems_form"]
    (queued,) = [
        i for i in follow_up_queue(clinic.db, NURSE, now=NOW).items if i.kind == "rems_form"
    ]
    assert form.when == queued.due_text
    assert form.when.startswith("by end of ")
