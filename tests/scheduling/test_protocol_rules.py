"""The protocol rules engine: each rule found, named and worded, and only where a change
touches it (scheduling/protocol_rules.py).  Plain data; no clock."""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from ketadesk.config import Catalog
from ketadesk.scheduling.catalog import ConfigError
from ketadesk.scheduling.gating import PatientFacts, ScreeningStatus, Severity
from ketadesk.scheduling.protocol_rules import (
    CONCURRENT_COURSE,
    MIN_GAP,
    SERIES_ORDER,
    WINDOW_CAP,
    CourseSession,
    Finding,
    judge,
    overridable_rules,
    parse_protocol_rule_settings,
    stopping,
)

TZ = ZoneInfo("America/Los_Angeles")
MONDAY = dt.date(2025, 3, 3)  # a Monday; the engine reads no clock
READY = PatientFacts(
    screening_status=ScreeningStatus.CLEARED,
    screening_cleared_on=MONDAY - dt.timedelta(days=30),
    consent_signed_on=MONDAY - dt.timedelta(days=30),
    rems_enrolled_on=MONDAY - dt.timedelta(days=30),
    prior_auth_expires_on=MONDAY + dt.timedelta(days=200),
    prior_auth_sessions_left=20,
    driver_name="Sam",
    date_of_birth=MONDAY - dt.timedelta(days=40 * 365),
)


def course(
    protocol: str,
    session_type: str,
    offsets: list[int],
    *,
    series: int = 1,
    first_key: int = 100,
) -> list[CourseSession]:
    return [
        CourseSession(
            key=first_key + n,
            series=series,
            index=n + 1,
            session_type=session_type,
            protocol=protocol,
            start=dt.datetime.combine(MONDAY + dt.timedelta(days=d), dt.time(10), TZ),
            day=MONDAY + dt.timedelta(days=d),
            count=len(offsets),
        )
        for n, d in enumerate(offsets)
    ]


def moved(sessions: list[CourseSession], key: int, days: int) -> list[CourseSession]:
    return [
        dataclasses.replace(
            s,
            day=MONDAY + dt.timedelta(days=days),
            start=dt.datetime.combine(MONDAY + dt.timedelta(days=days), dt.time(10), TZ),
        )
        if s.key == key
        else s
        for s in sessions
    ]


def certified(catalog: Catalog, days: int = 365) -> object:
    return dataclasses.replace(
        catalog.settings,
        rems_site_certified_until=(MONDAY + dt.timedelta(days=days)).isoformat(),
    )


def run(
    catalog: Catalog,
    sessions: list[CourseSession],
    changed: set[int],
    **kw: object,
) -> list[Finding]:
    return judge(
        sessions,
        changed,
        protocols=catalog.protocols,
        session_types=catalog.session_types,
        clinic=kw.pop("clinic", catalog.settings),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


def test_mon_wed_fri_spravato_induction_is_refused_by_the_cap(catalog: Catalog) -> None:
    # Mon/Wed/Fri keeps min_gap_days = 2 but gives 3 doses in 7 days.
    sessions = course("spravato_trd", "spravato", [0, 2, 4, 7, 9, 11, 14, 16])
    found = run(catalog, sessions, {s.key for s in sessions})
    caps = [f for f in found if f.rule == WINDOW_CAP]
    assert caps
    assert all(f.severity is Severity.BLOCK for f in caps)
    assert "at most 2 in any 7 days" in caps[0].message
    assert not [f for f in found if f.rule == MIN_GAP]
    assert stopping(found)


def test_twice_weekly_spravato_passes(catalog: Catalog) -> None:
    sessions = course("spravato_trd", "spravato", [0, 3, 7, 10, 14, 17, 21, 24])
    found = run(
        catalog, sessions, {s.key for s in sessions}, facts=READY, clinic=certified(catalog)
    )
    assert found == []


def test_two_spravato_doses_a_day_apart_break_the_minimum_gap(catalog: Catalog) -> None:
    sessions = course("spravato_trd", "spravato", [0, 3, 7, 10])
    after = moved(sessions, 102, 4)  # 3/4 to the day after 2/4
    found = run(catalog, after, {102}, before={102: MONDAY + dt.timedelta(days=7)})
    gaps = [f for f in found if f.rule == MIN_GAP]
    assert gaps
    assert gaps[0].severity is Severity.WARN
    assert "1 day apart" in gaps[0].message
    assert "Too close [min_gap]" in gaps[0].text(("nurse", "prescriber"))
    assert "a nurse or a prescriber may override" in gaps[0].text(("nurse", "prescriber"))
    # A clinician's reason lets it go, and the finding says it was overridden.
    ok = run(catalog, after, {102}, overrides={MIN_GAP: "travel"})
    assert next(f for f in ok if f.rule == MIN_GAP).overridden
    assert not [f for f in stopping(ok) if f.rule == MIN_GAP]


@pytest.mark.parametrize(("to", "passed"), [(3, "session 2/6"), (13, "session 6/6")])
def test_session_one_cannot_move_past_the_next_ones(catalog: Catalog, to: int, passed: str) -> None:
    sessions = course("iv_induction", "iv_infusion", [0, 2, 4, 7, 9, 11])
    found = run(catalog, moved(sessions, 100, to), {100})
    order = [f for f in found if f.rule == SERIES_ORDER]
    assert order
    assert order[0].severity is Severity.BLOCK
    assert "session 1/6 on" in order[0].message
    assert f"after {passed}" in order[0].message
    # A block takes no override.
    again = run(catalog, moved(sessions, 100, to), {100}, overrides={SERIES_ORDER: "please"})
    assert [f for f in stopping(again) if f.rule == SERIES_ORDER]


def test_only_what_the_change_touches_is_judged(catalog: Catalog) -> None:
    # Sessions 1 and 2 are a day apart (booked with an override long ago); moving 4 is fine.
    sessions = course("spravato_trd", "spravato", [0, 1, 7, 10, 14])
    assert run(catalog, sessions, {101}) != []
    assert run(catalog, moved(sessions, 103, 11), {103}) == []


def test_two_courses_at_once_are_warned(catalog: Catalog) -> None:
    iv = course("iv_induction", "iv_infusion", [0, 2, 4, 7, 9, 11], series=1, first_key=100)
    spravato = course("spravato_trd", "spravato", [1, 5, 8], series=2, first_key=200)
    second_iv = course("iv_induction", "iv_infusion", [14, 16], series=3, first_key=300)
    found = run(catalog, [*iv, *spravato], {s.key for s in spravato})
    concurrent = [f for f in found if f.rule == CONCURRENT_COURSE]
    assert concurrent
    assert concurrent[0].severity is Severity.WARN
    assert "IV ketamine infusion course" in concurrent[0].message
    # A second IV induction starting the day the first ends overlaps it too...
    touching = moved(second_iv, 300, 11)
    found = run(catalog, [*iv, *touching], {300, 301})
    assert [f for f in found if f.rule == CONCURRENT_COURSE]
    # ...one after it does not.
    assert not run(catalog, [*iv, *second_iv], {300, 301})


def single(session_type: str, offset: int, key: int) -> CourseSession:
    """A session booked on its own (no series)."""
    day = MONDAY + dt.timedelta(days=offset)
    return CourseSession(
        key=key,
        series=None,
        index=None,
        session_type=session_type,
        protocol="",
        start=dt.datetime.combine(day, dt.time(10), TZ),
        day=day,
    )


def test_a_single_dose_of_another_treatment_during_a_course_is_warned(catalog: Catalog) -> None:
    spravato = course("spravato_trd", "spravato", [0, 3, 7, 10], series=2, first_key=200)
    infusion = single("iv_infusion", 5, key=500)
    found = run(catalog, [*spravato, infusion], {500})
    concurrent = [f for f in found if f.rule == CONCURRENT_COURSE]
    assert len(concurrent) == 1
    assert concurrent[0].severity is Severity.WARN
    assert concurrent[0].message.startswith("the single IV ketamine infusion on ")
    assert "would fall during the patient's Spravato" in concurrent[0].message
    # The same the other way round: a course booked over a single dose already on the books.
    found = run(catalog, [*spravato, infusion], {s.key for s in spravato})
    assert [f for f in found if f.rule == CONCURRENT_COURSE]
    # Outside the course's dates, or a treatment that is no dose, it is no second course.
    assert not run(catalog, [*spravato, single("iv_infusion", 12, key=500)], {500})
    assert not [
        f
        for f in run(catalog, [*spravato, single("integration", 5, key=500)], {500})
        if f.rule == CONCURRENT_COURSE
    ]


def test_single_doses_are_not_courses_of_their_own(catalog: Catalog) -> None:
    # Two one-off doses of different treatments on different days: no course is running.
    assert not run(catalog, [single("iv_infusion", 0, 500), single("spravato", 3, 501)], {501})


def test_a_single_dose_of_the_course_treatment_counts_against_its_cap(catalog: Catalog) -> None:
    # Spravato induction, Monday and Thursday; a one-off Spravato dose on the Tuesday between
    # is the third in 7 days, whatever it was booked as.
    spravato = course("spravato_trd", "spravato", [0, 3, 7, 10], series=2, first_key=200)
    extra = single("spravato", 1, key=500)
    found = run(catalog, [*spravato, extra], {500})
    caps = [f for f in found if f.rule == WINDOW_CAP]
    assert len(caps) == 1
    assert caps[0].severity is Severity.BLOCK
    assert "3 spravato sessions in the 7 days" in caps[0].message
    assert not [f for f in found if f.rule == CONCURRENT_COURSE]
    # Far enough from the course's doses, a single dose breaks no cap.
    assert not run(catalog, [*spravato, single("spravato", 30, key=500)], {500})


def test_a_single_dose_of_the_course_treatment_keeps_its_spacing(catalog: Catalog) -> None:
    # Optimization is weekly (at least 5 days between doses); a one-off dose the day after
    # session 9/12 is two doses a day apart, however it was booked.
    spravato = course(
        "spravato_trd", "spravato", [0, 3, 7, 10, 14, 17, 21, 24, 28, 35], first_key=200
    )
    found = run(catalog, [*spravato, single("spravato", 29, key=500)], {500})
    gaps = [f for f in found if f.rule == MIN_GAP]
    assert len(gaps) == 1
    assert gaps[0].message.startswith("the single Spravato (esketamine) on ")
    assert "1 day from session 9/10" in gaps[0].message
    assert "at least 5 days between doses" in gaps[0].message
    # Moving the series next to a single already booked is judged too.
    after = moved([*spravato, single("spravato", 40, key=500)], 209, 39)
    assert [f for f in run(catalog, after, {209}) if f.rule == MIN_GAP]
    # A single dose far enough from every session of the course breaks nothing.
    assert not run(catalog, [*spravato, single("spravato", 45, key=500)], {500})


def test_an_overlap_there_before_a_move_is_not_news(catalog: Catalog) -> None:
    iv = course("iv_induction", "iv_infusion", [0, 2, 4, 7, 9, 11], series=1, first_key=100)
    spravato = course("spravato_trd", "spravato", [1, 5, 8], series=2, first_key=200)
    after = moved(spravato, 201, 6)
    found = run(catalog, [*iv, *after], {201}, before={201: MONDAY + dt.timedelta(days=5)})
    assert not [f for f in found if f.rule == CONCURRENT_COURSE]


def test_gating_is_judged_for_the_new_day(catalog: Catalog) -> None:
    sessions = course("spravato_trd", "spravato", [0, 3, 7, 10])
    facts = dataclasses.replace(READY, prior_auth_expires_on=MONDAY + dt.timedelta(days=8))
    clinic = dataclasses.replace(
        catalog.settings,
        rems_site_certified_until=(MONDAY + dt.timedelta(days=8)).isoformat(),
    )
    found = run(
        catalog,
        moved(sessions, 102, 9),
        {102},
        facts=facts,
        clinic=clinic,
        before={102: MONDAY + dt.timedelta(days=7)},
    )
    by_rule = {f.rule: f for f in found}
    assert by_rule["prior_auth_valid"].severity is Severity.WARN
    assert "prior authorization expires" in by_rule["prior_auth_valid"].message
    assert by_rule["rems_site_certified"].severity is Severity.BLOCK
    assert "REMS certification ends" in by_rule["rems_site_certified"].message
    # The facts count the units of the patient's other sessions only (the caller leaves the
    # moved one out, ``load_patient_facts(excluding=...)``): the moved session spends its own
    # unit once, at its new date, with no adding back.
    own_unit = dataclasses.replace(READY, prior_auth_sessions_left=1)
    assert not run(
        catalog,
        moved(sessions, 102, 8),
        {102},
        facts=own_unit,
        before={102: MONDAY},
        clinic=certified(catalog),
    )
    none_left = dataclasses.replace(READY, prior_auth_sessions_left=0)
    found = run(
        catalog,
        moved(sessions, 102, 8),
        {102},
        facts=none_left,
        before={102: MONDAY},
        clinic=certified(catalog),
    )
    assert [f.rule for f in found] == ["prior_auth_valid"]


def test_settings_are_checked_and_name_their_key() -> None:
    with pytest.raises(ConfigError, match=r"\[protocol_rules\] window_cap must be one of"):
        parse_protocol_rule_settings({"window_cap": "sometimes"})
    with pytest.raises(ConfigError, match=r"\[protocol_rules\] max_doses is not a protocol rule"):
        parse_protocol_rule_settings({"max_doses": "warn"})
    with pytest.raises(ConfigError, match="override_roles must list roles"):
        parse_protocol_rule_settings({"override_roles": ["janitor"]})


def test_a_rule_set_off_is_not_judged_and_only_warn_rules_are_overridable(
    catalog: Catalog,
) -> None:
    clinic = dataclasses.replace(
        catalog.settings, extra={**catalog.settings.extra, "protocol_rules": {"min_gap": "off"}}
    )
    sessions = course("spravato_trd", "spravato", [0, 1])
    assert [f.rule for f in run(catalog, sessions, {s.key for s in sessions})] == [MIN_GAP]
    assert not run(catalog, sessions, {s.key for s in sessions}, clinic=clinic)
    allowed = overridable_rules(catalog.settings)
    assert MIN_GAP in allowed
    assert "prior_auth_valid" in allowed
    assert WINDOW_CAP not in allowed
    assert "rems_site_certified" not in allowed


# --------------------------------------------------------------------------------------------
# series_gap: the gap from the patient's previous series of a treatment to the next one


def _maintenance_then_maintenance(last_at: int, next_at: int) -> list[CourseSession]:
    """A maintenance series whose 6/6 is on day ``last_at``, and a second from ``next_at``."""
    first = course("spravato_maintenance", "spravato", [0, 14, 28, 42, 56, last_at])
    second = course(
        "spravato_maintenance",
        "spravato",
        [next_at + 14 * n for n in range(6)],
        series=2,
        first_key=200,
    )
    return first + second


def test_a_maintenance_session_pulled_a_week_earlier_breaks_the_gap_to_the_next_series(
    catalog: Catalog,
) -> None:
    """The trial: 6/6 from day 70 to day 63, the next series from day 84: 21 days between
    doses where "every 1-2 weeks" (6-16 days) holds across series too."""
    spec = catalog.protocols["spravato_maintenance"].series_gap
    assert spec is not None
    assert (spec.min_days, spec.max_days) == (6, 16)
    booked = _maintenance_then_maintenance(70, 84)
    assert run(catalog, booked, {105}) == []
    pulled = moved(booked, 105, 63)
    [found] = [f for f in run(catalog, pulled, {105}) if f.rule == "series_gap"]
    assert found.severity is Severity.WARN
    assert found.title == "Gap between series"
    assert "session 6/6 of the patient's previous series" in found.message
    assert "session 1/6 of the next" in found.message
    assert "would be 21 days apart" in found.message
    assert "asks for 6-16 days after the previous series" in found.message
    # Within the series, 7 days after 5/6 keeps the stage's own gaps: only series_gap speaks.
    assert [f.rule for f in run(catalog, pulled, {105})] == ["series_gap"]
    # The next series' first session moved too close is judged the same way, from its side.
    close = moved(booked, 200, 73)
    found_close = [f for f in run(catalog, close, {200}) if f.rule == "series_gap"]
    assert [f.message.split(" would be ")[1][:12] for f in found_close] == ["3 days apart"]


def test_series_gap_is_judged_only_where_a_change_touches_it_and_follows_its_level(
    catalog: Catalog,
) -> None:
    pulled = moved(_maintenance_then_maintenance(70, 84), 105, 63)
    # A change elsewhere in the first series does not re-judge the gap between series.
    assert [f for f in run(catalog, pulled, {101}) if f.rule == "series_gap"] == []
    off = dataclasses.replace(
        catalog.settings, extra={**catalog.settings.extra, "protocol_rules": {"series_gap": "off"}}
    )
    assert run(catalog, pulled, {105}, clinic=off) == []
    # An induction after maintenance has no series_gap of its own (a restart may come later).
    restart = course("spravato_maintenance", "spravato", [0, 14]) + course(
        "spravato_trd", "spravato", [60, 63, 67, 70, 74, 77, 81, 84], series=2, first_key=200
    )
    assert [f for f in run(catalog, restart, {200}) if f.rule == "series_gap"] == []


def test_series_gap_in_protocols_toml_is_checked(catalog: Catalog) -> None:
    from ketadesk.scheduling.catalog import parse_protocol

    data = {
        "name": "M",
        "series_gap": {"min_days": 9, "max_days": 3},
        "stages": [
            {
                "name": "S",
                "session_type": "spravato",
                "count": 2,
                "min_gap_days": 6,
                "max_gap_days": 16,
            }
        ],
    }
    with pytest.raises(ConfigError, match=r"series_gap.max_days.*must not be less than min_days"):
        parse_protocol("m", data, "protocols.toml", "protocols.m", catalog.session_types)


def test_an_iv_booster_comes_two_weeks_or_more_after_the_previous_iv_series(
    catalog: Catalog,
) -> None:
    """DOMAIN.md: a booster is usually 2-6 weeks after the last infusion. Sooner is another
    induction, and needs a clinician's decision; later is the clinician's call, not a rule."""
    spec = catalog.protocols["iv_booster"].series_gap
    assert spec is not None
    assert (spec.min_days, spec.max_days) == (14, None)
    induction = course("iv_induction", "iv_infusion", [0, 2, 4, 7, 9, 11])

    def booster(day: int) -> list[CourseSession]:
        return induction + course("iv_booster", "iv_infusion", [day], series=2, first_key=200)

    [found] = [f for f in run(catalog, booster(20), {200}) if f.rule == "series_gap"]
    assert found.severity is Severity.WARN
    assert "would be 9 days apart" in found.message
    assert "IV booster asks for at least 14 days after the previous series" in found.message
    for day in (25, 11 + 42, 11 + 120):  # two weeks on, six weeks on, four months on
        assert [f for f in run(catalog, booster(day), {200}) if f.rule == "series_gap"] == []
    # A booster after a booster holds the same minimum.
    again = booster(40) + course("iv_booster", "iv_infusion", [45], series=3, first_key=300)
    assert [f.rule for f in run(catalog, again, {300})] == ["series_gap"]


def test_series_gap_may_leave_out_its_longest(catalog: Catalog) -> None:
    from ketadesk.scheduling.catalog import parse_protocol

    data = {
        "name": "B",
        "series_gap": {"min_days": 14},
        "stages": [
            {
                "name": "S",
                "session_type": "iv_infusion",
                "count": 1,
                "min_gap_days": 0,
                "max_gap_days": 0,
            }
        ],
    }
    spec = parse_protocol("b", data, "protocols.toml", "protocols.b", catalog.session_types)
    assert spec.series_gap is not None
    assert spec.series_gap.max_days is None
    assert spec.series_gap.allows(14)
    assert spec.series_gap.allows(400)
    assert not spec.series_gap.allows(13)
    assert spec.series_gap.words == "at least 14 days"
