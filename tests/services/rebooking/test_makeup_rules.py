"""The make-up and a closure's consequences are judged by the one rules engine
(``scheduling/protocol_rules.py``), on a real clinic (SQLite and PostgreSQL): a make-up that
would be a third Spravato dose in 7 days of induction is refused naming ``window_cap``; one too
close to the session before it is refused naming ``min_gap`` until a nurse overrides it with a
reason (recorded, audited), and the front desk may not; a closure's re-flow the rules refuse is
left unplaced with the rule named in the preview; a moved session spends its prior-authorization
units once.

Dates come from the clinic's today (``utcnow`` at the clinic), so the tests pass whatever day
they run, also under ``faketime +400d``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select, update

from ketadesk.scheduling.calendar import Interval
from ketadesk.scheduling.model import PlannedSession
from ketadesk.services.booking import appointment_changes, booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.booking.move_check import plan_move
from ketadesk.services.booking.rule_check import RuleRefused
from ketadesk.services.common.context import SYSTEM, Actor, PermissionDenied, utcnow
from ketadesk.services.printing.day_sheet import day_sheet
from ketadesk.services.rebooking import makeup
from ketadesk.services.settings import consequences
from ketadesk.services.settings.availability import Unavailability
from ketadesk.store.models import (
    Appointment,
    AuditEvent,
    ClinicSetting,
    Closure,
    GatingOverride,
    Patient,
    SeriesRebooking,
)
from tests.clinic_fixtures import SmallClinic, build_small_clinic, extend_authorizations

NURSE = Actor(user_id=None, username="kim", role="nurse")
FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")
SPRAVATO = {
    "room": "Room 2",
    "monitor": "Monitor 2",
    "oximeter": "Oximeter 1",
    "nurse": "Nurse Kim",
    "prescriber": "Dr Patel",
}
#: Spravato TRD induction on Mondays and Thursdays (the protocol's default weekdays).
MON_THU = (0, 3, 7, 10, 14, 17, 21, 24)
#: Spravato maintenance, weekly on Mondays.
WEEKLY = (0, 7, 14, 21, 28, 35)
#: The days the series and their re-flows use, from the Monday.
SPAN_DAYS = 50


@dataclass
class Today:
    clinic: SmallClinic
    now: dt.datetime
    monday: dt.date  # a Monday a week or more after the clinic's today, then 7 weeks open
    ids: list[int] = field(default_factory=list)  # Ada's series, in series order, once booked

    def day(self, offset: int) -> dt.date:
        return self.monday + dt.timedelta(days=offset)


def clinic_from_today(url: str) -> Today:
    """The small clinic, its authorizations valid long enough, and a Monday a week or more
    after its today that starts seven weeks with no holiday."""
    clinic = build_small_clinic(url)
    now = utcnow()
    local = clinic.calendar.local_date(now)
    extend_authorizations(clinic, local + dt.timedelta(days=800))
    monday = local + dt.timedelta(days=7 + (7 - local.weekday()) % 7)
    # Weeks with no holiday, so that the series keep the weekdays the tests reason about.
    while any(
        clinic.calendar.closed_reason(monday + dt.timedelta(days=d))
        for d in range(SPAN_DAYS)
        if (monday + dt.timedelta(days=d)).weekday() < 5
    ):
        monday += dt.timedelta(days=7)
    return Today(clinic, now, monday)


@pytest.fixture
def today(db_url: str) -> Iterator[Today]:
    t = clinic_from_today(db_url)
    yield t
    t.clinic.db.dispose()


def book_spravato(t: Today, protocol: str, offsets: Sequence[int]) -> list[PlannedSession]:
    """Ada's Spravato series at 10:00 on ``offsets`` (days from the Monday); its appointment
    ids go in ``t.ids``."""
    sessions = tuple(
        t.clinic.session("spravato", t.day(d), "10:00", SPRAVATO, index=n + 1)
        for n, d in enumerate(offsets)
    )
    result = booking.book(
        t.clinic.db,
        SYSTEM,
        BookingRequest(
            patient_id=t.clinic.ids["Ada Lovelace"], sessions=sessions, protocol=protocol
        ),
        now=t.now,
    )
    t.ids = list(result.appointment_ids)
    return list(sessions)


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


def _made_up(t: Today, missed: int) -> int | None:
    with t.clinic.db.read() as s:
        return s.scalar(
            select(SeriesRebooking.make_up_appointment_id).where(
                SeriesRebooking.appointment_id == missed
            )
        )


def test_a_make_up_that_would_be_a_third_dose_in_seven_days_is_refused_naming_window_cap(
    today: Today,
) -> None:
    t = today
    sessions = book_spravato(t, "spravato_trd", MON_THU)
    second = t.ids[1]
    at = sessions[1].start + dt.timedelta(minutes=30)
    appointment_changes.change_status(t.clinic.db, FRONT_DESK, second, "no_show", now=at)

    offer = makeup.offer_for(t.clinic.db, second, now=at)
    assert offer is not None
    assert offer.make_up is not None
    # The planner's first place, the Friday after the miss, keeps the gaps but would be a third
    # dose in 7 days of induction: not offered; the first place the rules allow is (the later
    # sessions moving on).
    assert offer.can_make_up, (offer.problems, offer.findings)
    assert offer.blocked == ()
    assert t.clinic.calendar.local_date(offer.make_up.session.start) > t.day(4)
    # The Friday sent anyway (an offer held from before, another client): refused in the
    # write, naming the rule; a nurse's reason does not lift a blocking rule.
    friday = t.clinic.session("spravato", t.day(4), "10:00", SPRAVATO, index=2)
    held = dataclasses.replace(
        offer, make_up=dataclasses.replace(offer.make_up, session=friday), moves=()
    )
    for actor, overrides in ((FRONT_DESK, {}), (NURSE, {"window_cap": "patient asked"})):
        with pytest.raises(RuleRefused, match=r"Too many doses \[window_cap\]") as refused:
            makeup.book_make_up(t.clinic.db, actor, held, overrides=overrides, now=at)
        assert [f.rule for f in refused.value.findings] == ["window_cap"]
        assert "at most 2 in any 7 days" in refused.value.findings[0].message
        assert "blocking: cannot be overridden" in str(refused.value)
    assert _made_up(t, second) is None
    # The offer as made books (its "warn" rules, if any, overridden by a nurse).
    reasons = {f.rule: "the Friday would be a third dose" for f in offer.findings}
    made = makeup.book_make_up(t.clinic.db, NURSE, offer, overrides=reasons, now=at)
    assert _made_up(t, second) == made.appointment_id


def test_no_make_up_is_offered_when_every_place_breaks_a_blocking_rule(today: Today) -> None:
    """The site's REMS certification cut to the day of the missed dose: every later day is
    refused, and the offer names the rule with the make-up not bookable."""
    t = today
    sessions = book_spravato(t, "spravato_trd", MON_THU)
    second = t.ids[1]
    at = sessions[1].start + dt.timedelta(minutes=30)
    appointment_changes.change_status(t.clinic.db, FRONT_DESK, second, "no_show", now=at)
    cut_rems(t, t.clinic.calendar.local_date(sessions[1].start))
    offer = makeup.offer_for(t.clinic.db, second, now=at)
    assert offer is not None
    assert "rems_site_certified" in {f.rule for f in offer.blocked}
    assert not offer.can_make_up
    with pytest.raises(RuleRefused, match=r"\[rems_site_certified\]"):
        makeup.book_make_up(t.clinic.db, NURSE, offer, now=at)


def cut_rems(t: Today, until: dt.date) -> None:
    """The site's REMS certification ends on ``until``."""
    with t.clinic.db.write() as s:
        rems = s.get(ClinicSetting, "rems")
        assert rems is not None
        rems.value = {**rems.value, "site_certified_until": until.isoformat()}


def maintenance_make_up_too_close(t: Today) -> tuple[int, makeup.RebookingOffer, dt.datetime]:
    """Weekly maintenance, session 3 cancelled ahead; the offer's make-up put on the Friday
    after session 2 (4 days after it; maintenance asks for at least 6), as a desk holding an
    edited or stale offer would send it."""
    sessions = book_spravato(t, "spravato_maintenance", WEEKLY)
    third = t.ids[2]
    appointment_changes.change_status(
        t.clinic.db, FRONT_DESK, third, "cancel", reason="travelling", now=t.now
    )
    offer = makeup.offer_for(t.clinic.db, third, now=t.now)
    assert offer is not None
    assert offer.can_make_up, (offer.problems, offer.findings)
    assert offer.findings == ()  # the planner's own place keeps the spacing
    assert offer.make_up is not None
    friday = t.clinic.session("spravato", t.day(11), "10:00", SPRAVATO, index=3)
    assert friday.start - sessions[1].start == dt.timedelta(days=4)
    a, b = t.clinic.calendar.local(friday.start), t.clinic.calendar.local(friday.end)
    when = f"{a:%a %m/%d} {a:%H:%M}-{b:%H:%M}"
    edited = dataclasses.replace(
        offer,
        make_up=dataclasses.replace(offer.make_up, session=friday, when_text=when),
        moves=(),
    )
    return third, edited, t.now


def test_a_make_up_too_close_is_refused_then_booked_with_a_nurses_override(
    today: Today,
) -> None:
    t = today
    third, offer, now = maintenance_make_up_too_close(t)
    with pytest.raises(RuleRefused, match=r"Too close \[min_gap\]") as refused:
        makeup.book_make_up(t.clinic.db, NURSE, offer, now=now)
    assert [f.rule for f in refused.value.findings] == ["min_gap"]
    assert "nurse" in refused.value.override_roles
    assert "4 days apart" in refused.value.findings[0].message
    assert _made_up(t, third) is None

    made = makeup.book_make_up(
        t.clinic.db, NURSE, offer, overrides={"min_gap": "travelling the week after"}, now=now
    )
    assert made.overrides == {"min_gap": "travelling the week after"}
    assert _made_up(t, third) == made.appointment_id
    with t.clinic.db.read() as s:
        row = s.get(Appointment, made.appointment_id)
        assert row is not None
        assert row.series_index == 3
        assert offer.make_up is not None
        assert row.starts_at == offer.make_up.session.start
        override = s.scalars(
            select(GatingOverride).where(GatingOverride.appointment_id == made.appointment_id)
        ).one()
        assert (override.rule, override.reason) == ("min_gap", "travelling the week after")
        audited = s.scalars(
            select(AuditEvent.detail).where(
                AuditEvent.action == "override_rule", AuditEvent.entity_id == made.appointment_id
            )
        ).all()
        assert audited == ["min_gap: travelling the week after"]
    # Printed beside the make-up on its day's sheet, as a move's override is.
    sheet = day_sheet(t.clinic.db, t.day(11), now=now)
    (printed,) = [r for g in sheet.groups for r in g.sessions]
    assert printed.overrides[0][:2] == ("min_gap", "travelling the week after")


def test_the_front_desk_may_not_override_a_make_up_too_close(today: Today) -> None:
    t = today
    third, offer, now = maintenance_make_up_too_close(t)
    with pytest.raises(PermissionDenied, match="Only a nurse or prescriber may go ahead"):
        makeup.book_make_up(
            t.clinic.db, FRONT_DESK, offer, overrides={"min_gap": "they insisted"}, now=now
        )
    assert _made_up(t, third) is None
    with t.clinic.db.read() as s:
        assert s.scalar(select(GatingOverride.id)) is None
        refusals = s.scalars(select(AuditEvent.action).where(AuditEvent.action == "refused")).all()
        assert refusals


def test_a_closure_move_the_rules_refuse_is_left_unplaced_naming_the_rule(today: Today) -> None:
    """The site's REMS certification ends on the day of the induction's last session; closing
    the clinic that day, the re-flow's later day would be a dose after the certification ends
    (a blocking rule the planner does not know): not proposed, named in the preview."""
    t = today
    sessions = book_spravato(t, "spravato_trd", MON_THU)
    cal = t.clinic.calendar
    last_day = cal.local_date(sessions[-1].start)
    with t.clinic.db.write() as s:
        rems = s.get(ClinicSetting, "rems")
        assert rems is not None
        rems.value = {**rems.value, "site_certified_until": last_day.isoformat()}
    last = t.ids[-1]
    proposed = Unavailability(
        "closure",
        cal.at_local(last_day, 0),
        cal.at_local(last_day + dt.timedelta(days=1), 0),
        "burst pipe",
    )
    preview = consequences.preview(t.clinic.db, proposed, now=t.now)
    assert [b.appointment_id for b in preview.broken] == [last]
    assert preview.move_of(last) is None
    [unplaced] = preview.unplaced
    assert unplaced.session.appointment_id == last
    assert unplaced.problem.startswith("refused by the clinic's rules: ")
    assert "[rems_site_certified]" in unplaced.problem
    assert "blocking: cannot be overridden" in unplaced.problem
    applied = consequences.apply(t.clinic.db, SYSTEM, preview, now=t.now)
    assert applied.moves == ()
    with t.clinic.db.read() as s:
        row = s.get(Appointment, last)
        assert row is not None
        assert row.starts_at == sessions[-1].start  # not moved: a person decides
        call = s.scalars(
            select(AuditEvent.detail).where(AuditEvent.action == "create_follow_up")
        ).one()
        assert "[rems_site_certified]" in call


def test_a_closure_move_refused_since_the_preview_is_not_applied(today: Today) -> None:
    """A monitor out of service: the preview keeps the session's time on another monitor; the
    site's REMS certification is cut short before *Apply all*, and the apply, judging the moves
    again in its transaction, refuses them all, naming the rule, and saves nothing."""
    t = today
    sessions = book_spravato(t, "spravato_trd", MON_THU)
    cal = t.clinic.calendar
    second_day = cal.local_date(sessions[1].start)
    proposed = Unavailability(
        "maintenance",
        cal.at_local(second_day, 0),
        cal.at_local(second_day + dt.timedelta(days=1), 0),
        "calibration",
        resource_id=t.clinic.ids["Monitor 2"],
    )
    preview = consequences.preview(t.clinic.db, proposed, now=t.now)
    move = preview.move_of(t.ids[1])
    assert move is not None
    assert move.new.start == sessions[1].start  # the same time, another monitor
    with t.clinic.db.write() as s:
        rems = s.get(ClinicSetting, "rems")
        assert rems is not None
        ends = second_day - dt.timedelta(days=1)
        rems.value = {**rems.value, "site_certified_until": ends.isoformat()}
    with pytest.raises(RuleRefused, match=r"\[rems_site_certified\]"):
        consequences.apply(t.clinic.db, SYSTEM, preview, now=t.now)
    with t.clinic.db.read() as s:
        assert s.scalar(select(Closure.id)) is None


def _authorize(t: Today, units: int, per_session: int) -> None:
    """Ada's prior authorization: ``units`` units, a Spravato session using ``per_session``."""
    with t.clinic.db.write() as s:
        s.execute(
            update(Patient)
            .where(Patient.id == t.clinic.ids["Ada Lovelace"])
            .values(prior_auth_sessions=units)
        )
        eligibility = s.get(ClinicSetting, "eligibility")
        assert eligibility is not None
        eligibility.value = {
            **eligibility.value,
            "prior_auth_units": {"spravato": per_session},
        }


def test_a_moved_session_spends_its_prior_authorization_units_once(today: Today) -> None:
    """Six maintenance sessions of 2 units each on an authorization of 12 units: every unit is
    booked, and moving one (by hand, or with a make-up's re-flow) spends its 2 units at the new
    date only, never a second time."""
    t = today
    book_spravato(t, "spravato_maintenance", WEEKLY)
    _authorize(t, units=12, per_session=2)
    last = t.ids[5]
    planned = plan_move(
        t.clinic.db,
        last,
        t.clinic.at(t.day(WEEKLY[5] + 2), "10:00"),
        t.clinic.ids["Room 2"],
        now=t.now,
    )
    assert planned.placed, planned.problems
    appointment_changes.move(t.clinic.db, NURSE, last, planned, now=t.now)
    with t.clinic.db.read() as s:
        assert s.scalar(select(GatingOverride.id)) is None  # nothing to override

    # Session 3 cancelled frees its 2 units; its make-up spends them again, and the later
    # sessions it moves spend nothing more.
    third = t.ids[2]
    appointment_changes.change_status(
        t.clinic.db, FRONT_DESK, third, "cancel", reason="travelling", now=t.now
    )
    offer = makeup.offer_for(t.clinic.db, third, now=t.now)
    assert offer is not None
    assert [f.rule for f in offer.findings] == []
    assert offer.can_make_up
    made = makeup.book_make_up(t.clinic.db, FRONT_DESK, offer, now=t.now)
    assert _made_up(t, third) == made.appointment_id


def test_a_make_up_past_the_authorized_units_names_the_prior_authorization(
    today: Today,
) -> None:
    """The same series on 10 units: session 3 cancelled leaves 10 used by the other five, and
    its make-up would need 2 more."""
    t = today
    book_spravato(t, "spravato_maintenance", WEEKLY)
    _authorize(t, units=10, per_session=2)
    third = t.ids[2]
    appointment_changes.change_status(
        t.clinic.db, FRONT_DESK, third, "cancel", reason="travelling", now=t.now
    )
    offer = makeup.offer_for(t.clinic.db, third, now=t.now)
    assert offer is not None
    assert [f.rule for f in offer.findings] == ["prior_auth_valid"]
    with pytest.raises(RuleRefused, match=r"\[prior_auth_valid\]"):
        makeup.book_make_up(t.clinic.db, FRONT_DESK, offer, now=t.now)


#: Spravato TRD in full: induction Mondays and Thursdays, then optimization weekly on Thursdays.
TRD_12 = (*MON_THU, 31, 38, 45, 52)


def test_a_make_up_keeps_the_spacing_across_a_cancellation_left_undecided(today: Today) -> None:
    """A user trial: session 3 cancelled with "Decide later", then a no-show of session 2.  The
    planner used to plan a session 3 of its own for the make-up's spacing that nobody booked,
    and the offer listed a make-up while saying no make-up keeps the series.  The open miss is a
    gap the make-up keeps its spacing across: what is offered is what is booked, and the
    series as booked keeps the protocol's spacing."""
    t = today
    sessions = book_spravato(t, "spravato_trd", TRD_12)
    second, third = t.ids[1], t.ids[2]
    appointment_changes.change_status(
        t.clinic.db, FRONT_DESK, third, "cancel", reason="travelling", now=t.now
    )
    assert _made_up(t, third) is None  # "Decide later": nothing recorded
    at = sessions[1].start + dt.timedelta(minutes=30)
    appointment_changes.change_status(t.clinic.db, FRONT_DESK, second, "no_show", now=at)

    offer = makeup.offer_for(t.clinic.db, second, now=at)
    assert offer is not None
    assert offer.make_up is not None
    assert offer.can_make_up, (offer.problems, offer.findings)
    assert offer.problems == ()
    made = makeup.book_make_up(
        t.clinic.db, NURSE, offer, overrides={f.rule: "trial" for f in offer.findings}, now=at
    )
    assert _made_up(t, second) == made.appointment_id
    # The series as booked: 1, the make-up, then 4 onwards, session 3 still a gap; each gap of
    # the induction 2-5 days.
    with t.clinic.db.read() as s:
        live = s.execute(
            select(Appointment.series_index, Appointment.starts_at)
            .where(Appointment.status == "booked", Appointment.patient_id == _ada(t))
            .order_by(Appointment.starts_at)
        ).all()
    days = {i: t.clinic.calendar.local_date(at_) for i, at_ in live}
    assert 3 not in days
    assert [i for i, _ in live] == [1, 2, *range(4, 13)]
    for a, b in ((1, 2), (2, 4), (4, 5), (5, 6), (6, 7), (7, 8)):
        assert 2 <= (days[b] - days[a]).days <= 5, (a, b, days)
    # The third, decided later, gets its own offer, after the make-up.
    later = makeup.offer_for(t.clinic.db, third, now=at)
    assert later is not None
    assert later.make_up is not None
    assert later.make_up.index == 3
    assert t.clinic.calendar.local_date(later.make_up.session.start) > days[2]


def _ada(t: Today) -> int:
    return t.clinic.ids["Ada Lovelace"]
