"""The protocol and gating rules hold at every step: plan, book, the drag's live check, the move
(its re-check in the transaction), the series move, ``ketadesk move`` and ``ketadesk check``;
each refusal names its rule, and an override is a role's decision with a reason, recorded,
audited and printed on the day sheet.  The issue's cases: two Spravato doses a day apart, a
session past the prior authorization's expiry, after the site's REMS certification ends
(blocking), session 1/6 moved after 2/6 and after 6/6, Mon/Wed/Fri Spravato induction."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator, Sequence

import pytest
from sqlalchemy import select

from ketadesk.cli import main
from ketadesk.scheduling.calendar import Interval
from ketadesk.scheduling.model import PlannedSession
from ketadesk.services.access import accounts
from ketadesk.services.booking import appointment_changes, booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.booking.move_check import check_move, plan_move, prepare_move
from ketadesk.services.booking.plan_check import BookingConflict
from ketadesk.services.booking.planning import PlanWishes, propose_series
from ketadesk.services.booking.rule_check import RuleRefused
from ketadesk.services.booking.series_moves import move_series, propose_series_move
from ketadesk.services.booking.single import propose_single
from ketadesk.services.clinic.integrity import check_integrity
from ketadesk.services.common.context import SYSTEM, Actor, PermissionDenied
from ketadesk.services.printing.day_sheet import day_sheet, day_sheet_layout
from ketadesk.store.models import (
    Appointment,
    AuditEvent,
    ClinicSetting,
    GatingOverride,
    Patient,
)
from tests.clinic_fixtures import SmallClinic, build_small_clinic

# The clock is injected: "now" is the Tuesday before the first Monday the tests book.
NOW = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 12, 1)
MONDAY = TODAY + dt.timedelta(days=(7 - TODAY.weekday()) % 7 or 7)
NURSE = Actor(user_id=None, username="kim", role="nurse")
DESK = Actor(user_id=None, username="maria", role="front_desk")
IV = {"room": "Room 1", "monitor": "Monitor 1", "nurse": "Nurse Kim"}
SPRAVATO = {
    "room": "Room 2",
    "monitor": "Monitor 2",
    "oximeter": "Oximeter 1",
    "nurse": "Nurse Kim",
    "prescriber": "Dr Patel",
}


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(db_url)
    yield c
    c.db.dispose()


def day(offset: int) -> dt.date:
    return MONDAY + dt.timedelta(days=offset)


def book_series(
    clinic: SmallClinic,
    protocol: str,
    offsets: Sequence[int],
    *,
    patient: str = "Ada Lovelace",
    session_type: str | None = None,
    hhmm: str = "10:00",
    overrides: dict[str, str] | None = None,
    actor: Actor = SYSTEM,
) -> list[int]:
    code = session_type or ("spravato" if protocol.startswith("spravato") else "iv_infusion")
    where = SPRAVATO if code == "spravato" else IV
    sessions = tuple(
        clinic.session(code, day(d), hhmm, where, index=n + 1) for n, d in enumerate(offsets)
    )
    result = booking.book(
        clinic.db,
        actor,
        BookingRequest(
            patient_id=clinic.ids[patient],
            sessions=sessions,
            protocol=protocol,
            overrides=overrides or {},
        ),
        now=NOW,
    )
    return list(result.appointment_ids)


def move_to(
    clinic: SmallClinic,
    appointment_id: int,
    offset: int,
    *,
    actor: Actor = NURSE,
    overrides: dict[str, str] | None = None,
    hhmm: str = "10:00",
) -> None:
    start = clinic.at(day(offset), hhmm)
    with clinic.db.read() as session:
        room = session.get(Appointment, appointment_id).room_id  # type: ignore[union-attr]
    planned = plan_move(clinic.db, appointment_id, start, room, now=NOW, overrides=overrides)
    appointment_changes.move(
        clinic.db, actor, appointment_id, planned, now=NOW, overrides=overrides
    )


def reasons_at(clinic: SmallClinic, appointment_id: int, offset: int) -> list[str]:
    with clinic.db.read() as session:
        room = session.get(Appointment, appointment_id).room_id  # type: ignore[union-attr]
    return check_move(clinic.db, appointment_id, clinic.at(day(offset), "10:00"), room, now=NOW)


def shifted(planned: PlannedSession, by: dt.timedelta) -> PlannedSession:
    """A planned session moved by ``by``, holds and all, without asking any check."""
    return dataclasses.replace(
        planned,
        start=planned.start + by,
        end=planned.end + by,
        holds=tuple(
            dataclasses.replace(h, span=Interval(h.span.start + by, h.span.end + by))
            for h in planned.holds
        ),
    )


def set_rems_until(clinic: SmallClinic, until: dt.date) -> None:
    with clinic.db.write() as session:
        rems = session.get(ClinicSetting, "rems")
        assert rems is not None
        rems.value = {**rems.value, "site_certified_until": until.isoformat()}


def set_prior_auth(clinic: SmallClinic, patient: str, expires: dt.date) -> None:
    with clinic.db.write() as session:
        row = session.get(Patient, clinic.ids[patient])
        assert row is not None
        row.prior_auth_expires_on = expires


# -- plan and book --------------------------------------------------------------------------------


def test_mon_wed_fri_spravato_induction_is_refused_by_the_cap_at_plan_and_book(
    clinic: SmallClinic,
) -> None:
    proposal = propose_series(
        clinic.db,
        chart="BT-1",
        protocol="spravato_trd",
        start=MONDAY,
        wishes=PlanWishes(weekdays=("mon", "wed", "fri"), time=dt.time(10)),
        today=TODAY,
    )
    # The planner never proposes what the rule refuses: asked for Mon/Wed/Fri, it keeps at
    # most 2 doses in any 7 days (a day off the wished weekdays when it must), and says nothing
    # of the cap because nothing breaks it.
    assert not any("[window_cap]" in p for p in proposal.plan.problems), proposal.plan.problems
    days = sorted(s.start.date() for s in proposal.plan.sessions if s.placed)
    assert len(days) >= 8
    for day in days:
        assert sum(1 for d in days if day <= d < day + dt.timedelta(days=7)) <= 2, days
    with pytest.raises(RuleRefused, match=r"Too many doses \[window_cap\]: 3 spravato") as err:
        book_series(clinic, "spravato_trd", [0, 2, 4, 7])
    assert {f.rule for f in err.value.findings} == {"window_cap"}
    # A block takes no override.
    with pytest.raises(RuleRefused, match=r"\[window_cap\]"):
        book_series(
            clinic, "spravato_trd", [0, 2, 4], overrides={"window_cap": "please"}, actor=NURSE
        )
    # Twice weekly books.
    assert len(book_series(clinic, "spravato_trd", [0, 3, 7, 10])) == 4


def test_a_second_course_at_once_is_warned_and_booked_only_with_a_reason(
    clinic: SmallClinic,
) -> None:
    book_series(clinic, "iv_induction", [0, 2, 4, 7, 9, 11])
    with pytest.raises(RuleRefused, match=r"Two courses at once \[concurrent_course\]"):
        book_series(clinic, "spravato_trd", [1, 3], hhmm="13:00")
    with pytest.raises(RuleRefused, match=r"\[concurrent_course\]"):
        book_series(clinic, "iv_induction", [8, 10], hhmm="13:00")
    ids = book_series(
        clinic,
        "spravato_trd",
        [1, 3],
        hhmm="13:00",
        overrides={"concurrent_course": "switching to Spravato, prescriber aware"},
        actor=NURSE,
    )
    with clinic.db.read() as session:
        kept = session.scalars(
            select(GatingOverride.rule).where(GatingOverride.appointment_id == ids[0])
        ).all()
    assert kept == ["concurrent_course"]


def test_a_single_dose_during_a_course_is_a_second_treatment_at_every_step(
    clinic: SmallClinic,
) -> None:
    """A one-off IV infusion during a Spravato induction is warned at booking like a second
    course, booked only with a clinician's reason, and found by ``ketadesk check`` when it got
    on the books without one; a one-off Spravato dose there counts against the induction's
    doses a week."""
    book_series(clinic, "spravato_trd", [0, 3, 7, 10])

    def single(code: str, offset: int, overrides: dict[str, str] | None = None) -> int:
        where = SPRAVATO if code == "spravato" else IV
        result = booking.book(
            clinic.db,
            NURSE,
            BookingRequest(
                patient_id=clinic.ids["Ada Lovelace"],
                sessions=(clinic.session(code, day(offset), "13:00", where),),
                overrides=overrides or {},
            ),
            now=NOW,
        )
        return result.appointment_ids[0]

    # The desk sees it on the proposal, before *Book*, as a warning a clinician may override.
    proposal = propose_single(
        clinic.db,
        session_type="iv_infusion",
        patient_id=clinic.ids["Ada Lovelace"],
        at=clinic.at(day(4), "13:00"),
        today=TODAY,
        now=NOW,
    )
    assert [(g.rule, g.severity.value) for g in proposal.gates] == [("concurrent_course", "warn")]
    assert not proposal.bookable
    with pytest.raises(RuleRefused, match=r"single IV ketamine infusion on .* would fall during"):
        single("iv_infusion", 4)
    with pytest.raises(RuleRefused, match=r"\[window_cap\]"):
        single("spravato", 1)
    booked = single("iv_infusion", 4, {"concurrent_course": "bridging while Spravato starts"})
    with clinic.db.read() as session:
        kept = session.scalars(
            select(GatingOverride.rule).where(GatingOverride.appointment_id == booked)
        ).all()
    assert kept == ["concurrent_course"]
    assert check_integrity(clinic.db).warnings == ()
    # The reason gone from the record (booked before the rule held singles too): the check says.
    with clinic.db.write() as session:
        for row in session.scalars(
            select(GatingOverride).where(GatingOverride.appointment_id == booked)
        ):
            session.delete(row)
    words = "\n".join(w.message for w in check_integrity(clinic.db).warnings)
    assert "Lovelace, Ada: Two courses at once [concurrent_course]" in words


# -- the drag's live check and the move -----------------------------------------------------------


def test_two_spravato_doses_a_day_apart_are_refused_on_a_move(clinic: SmallClinic) -> None:
    ids = book_series(clinic, "spravato_trd", [0, 3, 7])
    reasons = reasons_at(clinic, ids[2], 4)  # 3/3 to the day after 2/3
    assert any(r.startswith("Too close [min_gap]: session 2/3") for r in reasons)
    assert any("1 day apart" in r for r in reasons)
    with pytest.raises(BookingConflict, match=r"\[min_gap\]"):
        move_to(clinic, ids[2], 4)
    # A plan made without the check is judged again in the write's own transaction.
    good = plan_move(clinic.db, ids[2], clinic.at(day(8), "10:00"), clinic.ids["Room 2"], now=NOW)
    bad = shifted(good, dt.timedelta(days=-4))
    with pytest.raises(RuleRefused, match=r"\[min_gap\]"):
        appointment_changes.move(clinic.db, NURSE, ids[2], bad, now=NOW)


def test_a_move_past_the_prior_authorization_is_refused_until_a_clinician_overrides(
    clinic: SmallClinic,
) -> None:
    ids = book_series(clinic, "spravato_trd", [0, 3])
    set_prior_auth(clinic, "Ada Lovelace", day(3))
    reasons = reasons_at(clinic, ids[1], 4)
    assert len(reasons) == 1
    assert reasons[0].startswith("Prior authorization [prior_auth_valid]: prior authorization")
    assert "may override this with a reason" in reasons[0]
    with pytest.raises(PermissionDenied, match="Only a nurse or prescriber may go ahead"):
        move_to(clinic, ids[1], 4, actor=DESK, overrides={"prior_auth_valid": "renewal filed"})
    move_to(clinic, ids[1], 4, overrides={"prior_auth_valid": "renewal filed"})
    with clinic.db.read() as session:
        override = session.execute(
            select(GatingOverride.rule, GatingOverride.reason).where(
                GatingOverride.appointment_id == ids[1]
            )
        ).one()
        audited = session.scalars(
            select(AuditEvent.id).where(AuditEvent.action == "override_rule")
        ).all()
    assert tuple(override) == ("prior_auth_valid", "renewal filed")
    assert len(audited) == 1
    # The override prints on that day's sheet, with the reason.
    sheet = day_sheet(clinic.db, day(4), now=NOW)
    (row,) = [s for g in sheet.groups for s in g.sessions]
    assert row.overrides[0][:2] == ("prior_auth_valid", "renewal filed")
    html = "".join(b.html for b in day_sheet_layout(sheet).blocks)
    assert "Override: <b>Prior authorization</b> — renewal filed" in html
    assert "(prior_auth_valid · " in html  # the code stays, in small print
    # The public (initials) sheet names the rule, not the reason.
    public = day_sheet(clinic.db, day(4), use_initials=True, now=NOW)
    (public_row,) = [s for g in public.groups for s in g.sessions]
    assert public_row.overrides[0][:2] == ("prior_auth_valid", "")


def test_a_move_after_the_sites_rems_certification_is_blocked(clinic: SmallClinic) -> None:
    ids = book_series(clinic, "spravato_trd", [0, 3])
    set_rems_until(clinic, day(3))
    reasons = reasons_at(clinic, ids[1], 4)
    assert any(
        r.startswith("REMS site certification [rems_site_certified]") and "blocking" in r
        for r in reasons
    )
    with pytest.raises(BookingConflict, match=r"\[rems_site_certified\]"):
        move_to(clinic, ids[1], 4, overrides={"rems_site_certified": "renewing"})


@pytest.mark.parametrize(("to", "passed"), [(3, "after session 2/6"), (14, "after session 6/6")])
def test_session_one_cannot_move_past_the_next_ones(
    clinic: SmallClinic, to: int, passed: str
) -> None:
    ids = book_series(clinic, "iv_induction", [0, 2, 4, 7, 9, 11])
    reasons = reasons_at(clinic, ids[0], to)
    assert any(
        r.startswith("Series order [series_order]: session 1/6") and passed in r for r in reasons
    )
    with pytest.raises(BookingConflict, match=r"\[series_order\]"):
        move_to(clinic, ids[0], to, overrides={"series_order": "please"})


def test_the_drag_check_is_read_once_and_judges_every_day(clinic: SmallClinic) -> None:
    """The live check (a drag, a keyboard step) reads once and answers per place."""
    ids = book_series(clinic, "spravato_trd", [0, 3, 7])
    check = prepare_move(clinic.db, ids[1], around=clinic.at(day(1), "10:00"), now=NOW)
    assert any(
        "[min_gap]" in r for r in check.check(clinic.at(day(1), "10:00"), clinic.ids["Room 2"])
    )


# -- the series move ------------------------------------------------------------------------------


def test_a_series_move_past_the_prior_authorization_names_the_rule(clinic: SmallClinic) -> None:
    ids = book_series(clinic, "spravato_trd", [0, 3, 7])
    set_prior_auth(clinic, "Ada Lovelace", day(8))
    # 2/3 to day 8 (a gap a clinician accepts): 3/3 re-flows past the authorization.
    proposal = propose_series_move(clinic.db, ids[1], clinic.at(day(8), "10:00"), now=NOW)
    assert clinic.calendar.local_date(proposal.moves[-1][1].start) > day(8)
    with pytest.raises(RuleRefused, match=r"Prior authorization \[prior_auth_valid\]"):
        move_series(clinic.db, NURSE, proposal, spacing_reason="holiday", now=NOW)
    moved = move_series(
        clinic.db,
        NURSE,
        proposal,
        spacing_reason="holiday",
        now=NOW,
        overrides={"prior_auth_valid": "renewal filed"},
    )
    assert moved == len(proposal.moves)


def test_a_series_move_into_another_course_is_warned(clinic: SmallClinic) -> None:
    ids = book_series(clinic, "iv_induction", [0, 2, 4, 7, 9, 11])
    book_series(
        clinic,
        "spravato_trd",
        [14, 17],
        hhmm="13:00",
        overrides={"concurrent_course": "not yet"},
        actor=NURSE,
    )
    proposal = propose_series_move(clinic.db, ids[5], clinic.at(day(15), "10:00"), now=NOW)
    with pytest.raises(RuleRefused, match=r"Two courses at once \[concurrent_course\]"):
        move_series(clinic.db, NURSE, proposal, spacing_reason="travel", now=NOW)


# -- ketadesk move --------------------------------------------------------------------------------


def _cli(clinic: SmallClinic, *args: str) -> list[str]:
    url = str(clinic.db.engine.url.render_as_string(hide_password=False))
    return ["move", "--db", url, "--today", TODAY.isoformat(), *args]


def test_ketadesk_move_makes_the_same_checks_as_a_drag(
    clinic: SmallClinic, capsys: pytest.CaptureFixture[str]
) -> None:
    # 2/2 to the day after 1/2.
    second = book_series(clinic, "spravato_trd", [0, 3])[1]
    to = f"{day(1):%Y-%m-%d} 10:00"
    assert main(_cli(clinic, "--appointment", str(second), "--to", to)) == 1
    err = capsys.readouterr().err
    assert f"appointment #{second} cannot move there" in err
    assert "Too close [min_gap]" in err
    # Bad input: each named, exit status 2, nothing moved.
    cases = {
        ("--appointment", "999999", "--to", to): "no appointment #999999",
        ("--appointment", "x", "--to", to): "is not a number",
        ("--appointment", str(second), "--to", "tomorrow"): "not a date and time",
        ("--appointment", str(second), "--to", to, "--room", "Attic"): "no room named 'Attic'",
        (
            "--appointment",
            str(second),
            "--to",
            to,
            "--override",
            "min_gap=x",
        ): "give --user NAME",
        (
            "--appointment",
            str(second),
            "--to",
            to,
            "--override",
            "min_gapp=x",
            "--user",
            "kim",
        ): "unknown rule 'min_gapp'",
        (
            "--appointment",
            str(second),
            "--to",
            to,
            "--override",
            "series_order=x",
            "--user",
            "kim",
        ): "not one the clinic lets anyone override",
        ("--appointment", str(second), "--to", to, "--override", "min_gap"): "RULE=REASON",
    }
    accounts.create_user(clinic.db, SYSTEM, "kim", "Kim Nguyen", "nurse", "a-long-password-1")
    for args, words in cases.items():
        assert main(_cli(clinic, *args)) == 2, args
        assert words in capsys.readouterr().err, args
    # A nurse's override with a reason lets it go.
    args = ("--appointment", str(second), "--to", to, "--room", "room 2")
    ok = main(_cli(clinic, *args, "--override", "min_gap=fever, earliest day", "--user", "kim"))
    out, err = capsys.readouterr()
    assert ok == 0, err
    assert "overridden: min_gap" in out
    with clinic.db.read() as session:
        moved = session.get(Appointment, second)
        assert moved is not None
        assert clinic.calendar.local_date(moved.starts_at) == day(1)
        rows = session.execute(
            select(GatingOverride.rule, GatingOverride.user_id).where(
                GatingOverride.appointment_id == second
            )
        ).all()
    assert [r for r, _ in rows] == ["min_gap"]
    assert rows[0][1] is not None  # kim's decision, recorded as hers


# -- ketadesk check -------------------------------------------------------------------------------


def test_check_warns_of_booked_sessions_that_break_a_rule(
    clinic: SmallClinic, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = book_series(clinic, "spravato_trd", [0, 3, 7])
    book_series(clinic, "iv_induction", [14, 16], patient="Mary Seacole")
    assert check_integrity(clinic.db).warnings == ()
    # Rows changed behind the desk's back: 3/3 the day after 2/3, a prior authorization lapsed.
    with clinic.db.write() as session:
        row = session.get(Appointment, ids[2])
        assert row is not None
        row.starts_at -= dt.timedelta(days=3)
        row.ends_at -= dt.timedelta(days=3)
        for hold in row.holds:
            hold.starts_at -= dt.timedelta(days=3)
            hold.ends_at -= dt.timedelta(days=3)
    set_prior_auth(clinic, "Ada Lovelace", day(2))
    report = check_integrity(clinic.db)
    words = "\n".join(w.message for w in report.warnings)
    assert "Lovelace, Ada: Too close [min_gap]" in words
    assert "[prior_auth_valid]" in words
    assert "Seacole" not in words
    url = str(clinic.db.engine.url.render_as_string(hide_password=False))
    status = main(["check", "--db", url])
    out = capsys.readouterr().out
    assert "warning: Lovelace, Ada: Too close [min_gap]" in out
    assert "rule warning" in out
    assert status == (1 if report.problems else 0)
