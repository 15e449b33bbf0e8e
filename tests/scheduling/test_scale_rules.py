"""Timed sedation (MOAA/S) and dissociation (CADSS) readings as plain rules: when each is owed
from the dose, which is next and which were missed, whether the last ones let the patient go,
and configuration mistakes named by their key."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest

from ketadesk.config import load_default_catalog, read_raw_config
from ketadesk.scheduling import chair_rules
from ketadesk.scheduling.catalog import ConfigError, ScalePlan, parse_session_type
from ketadesk.scheduling.chair_rules import ChairSettings, Effects
from ketadesk.scheduling.scale_rules import (
    CADSS,
    MISSED,
    MOAAS,
    ScaleReading,
    ScaleSettings,
    parse_scale_settings,
    scale_discharge_problems,
    scale_schedule,
    scale_slots,
    scaled_effects,
    score_problem,
)

DOSE = dt.datetime(2030, 1, 7, 18, 15, tzinfo=dt.UTC)  # any instant: the rules are pure
FMT = "24h"
IV = (ScalePlan(MOAAS, (0, 15, 30, 45), True), ScalePlan(CADSS, (40,), True))
SETTINGS = ScaleSettings()


def at(minutes: int) -> dt.datetime:
    return DOSE + dt.timedelta(minutes=minutes)


def hhmm(moment: dt.datetime) -> str:
    return f"{moment.hour:02d}:{moment.minute:02d}"


def schedule(readings: list[ScaleReading], now_minutes: int, **kw: Any) -> Any:
    return scale_schedule(
        scale_slots(IV, DOSE, at(85)),
        readings,
        now=at(now_minutes),
        early_minutes=5,
        late_minutes=10,
        settings=kw.get("settings", SETTINGS),
    )


def test_the_shipped_iv_and_spravato_scales_are_owed_at_their_minutes() -> None:
    catalog = load_default_catalog()
    iv = catalog.session_types["iv_infusion"].scales
    assert iv == IV
    spravato = catalog.session_types["spravato"].scales
    assert spravato == (ScalePlan(MOAAS, (40, 90), False),)
    # IV: MOAA/S at the dose, +15, +30, +45 and at discharge (85 min); CADSS +40 and then.
    slots = scale_slots(iv, DOSE, at(85))
    assert [(s.label(SETTINGS), s.due_at - DOSE) for s in slots] == [
        ("MOAA/S at dose", dt.timedelta(0)),
        ("MOAA/S +15 min", dt.timedelta(minutes=15)),
        ("MOAA/S +30 min", dt.timedelta(minutes=30)),
        ("CADSS +40 min", dt.timedelta(minutes=40)),
        ("MOAA/S +45 min", dt.timedelta(minutes=45)),
        ("CADSS at discharge", dt.timedelta(minutes=85)),
        ("MOAA/S at discharge", dt.timedelta(minutes=85)),
    ]
    assert catalog.settings.extra["scales"]["moaas_resolved"] == 5


def test_a_reading_laid_past_the_discharge_is_due_by_then() -> None:
    plans = (ScalePlan(MOAAS, (40, 150), False),)
    slots = scale_slots(plans, DOSE, at(120))
    assert [s.due_at for s in slots] == [at(40), at(120)]


def test_the_next_reading_and_the_missed_ones() -> None:
    readings = [ScaleReading(MOAAS, at(1), 3, "Kim Nguyen")]
    owed = schedule(readings, 12)
    assert owed.next is not None
    assert owed.next_words(None, FMT) == f"MOAA/S due {hhmm(at(15))}"
    assert owed.missed == ()
    # +15 not taken by its due time and the 10 minutes' grace: missed, and said so.
    late = schedule(readings, 26)
    assert [c.slot.label(SETTINGS) for c in late.missed] == ["MOAA/S +15 min"]
    assert late.missed_words(None, FMT) == f"MOAA/S +15 min missed (due {hhmm(at(15))})"
    assert late.next_words(None, FMT) == f"MOAA/S due {hhmm(at(30))}"
    # Several missed: counted, the first named.
    later = schedule(readings, 56)
    assert later.missed_words(None, FMT) == (
        f"4 scale readings missed since {hhmm(at(15))} (MOAA/S +15 min first)"
    )
    # A reading taken late, before the next one's window, still fills its slot.
    caught = schedule([*readings, ScaleReading(MOAAS, at(24), 4)], 26)
    assert caught.missed == ()
    assert all(c.state != MISSED for c in caught.checks)


def test_a_reading_counts_from_the_early_minutes_before_its_time() -> None:
    early = schedule([ScaleReading(CADSS, at(36), 10)], 37)
    cadss = next(c for c in early.checks if c.slot.label(SETTINGS) == "CADSS +40 min")
    assert cadss.state == "done"
    too_early = schedule([ScaleReading(CADSS, at(30), 10)], 37)
    cadss = next(c for c in too_early.checks if c.slot.label(SETTINGS) == "CADSS +40 min")
    assert cadss.state == "upcoming"


def _problems(readings: list[ScaleReading], minutes: int = 90, **kw: Any) -> list[str]:
    return [
        p.fact
        for p in scale_discharge_problems(
            IV,
            readings,
            discharge_at=at(minutes),
            discharge_due=at(85),
            settings=kw.get("settings", SETTINGS),
            early_minutes=5,
            time_format=FMT,
        )
    ]


def test_discharge_needs_the_last_moaas_5_and_the_last_cadss_at_or_below_its_threshold() -> None:
    assert _problems([]) == ["no MOAA/S is recorded", "no CADSS is recorded"]
    readings = [
        ScaleReading(MOAAS, at(82), 4),
        ScaleReading(CADSS, at(83), 6),
    ]
    assert _problems(readings) == [
        f"sedation not resolved: the last MOAA/S 4 (lethargic response to name spoken in "
        f"normal tone) at {hhmm(at(82))}; discharge needs MOAA/S 5 or more",
        f"dissociation not resolved: the last CADSS 6 at {hhmm(at(83))}; discharge needs "
        "CADSS 0 or less",
    ]
    resolved = [*readings, ScaleReading(MOAAS, at(88), 5), ScaleReading(CADSS, at(88), 0)]
    assert _problems(resolved) == []
    # The thresholds are configuration.
    lenient = ScaleSettings(moaas_resolved=4, cadss_resolved_max=6)
    assert _problems(readings, settings=lenient) == []


def test_the_reading_at_discharge_must_be_taken_at_discharge() -> None:
    early = [ScaleReading(MOAAS, at(45), 5), ScaleReading(CADSS, at(40), 0)]
    assert _problems(early) == [
        f"no MOAA/S at discharge is recorded (the last, 5, was at {hhmm(at(45))}); take it "
        f"from {hhmm(at(80))}",
        f"no CADSS at discharge is recorded (the last, 0, was at {hhmm(at(40))}); take it "
        f"from {hhmm(at(80))}",
    ]


def test_the_chair_judges_a_scaled_effect_by_its_scale_not_its_checkbox() -> None:
    effects = Effects("moderate", "mild", False, False, False, False)
    kwargs: dict[str, Any] = {
        "session_name": "IV ketamine infusion",
        "dose_at": DOSE,
        "discharge_at": at(90),
        "observation_minutes": 85,
        "required_labels": [],
        "readings": [],
        "effects": effects,
        "settings": ChairSettings(),
        "monitored_by_recorded": True,
        "time_format": FMT,
    }
    unscaled = chair_rules.discharge_findings(**kwargs)
    assert [f.rule for f in unscaled] == [chair_rules.DISCHARGE_EFFECTS]
    problems = scale_discharge_problems(
        IV,
        [ScaleReading(MOAAS, at(88), 3)],
        discharge_at=at(90),
        discharge_due=at(85),
        settings=SETTINGS,
        early_minutes=5,
        time_format=FMT,
    )
    scaled = chair_rules.discharge_findings(
        **kwargs,
        scale_problems=[(p.fact, p.brief) for p in problems],
        scaled=scaled_effects(IV),
    )
    assert [f.rule for f in scaled] == [chair_rules.DISCHARGE_SCALES]
    assert scaled[0].title == "Sedation and dissociation scales at discharge"
    assert scaled[0].short == "sedation not resolved (MOAA/S); CADSS not recorded"
    # Under a "warn" discharge policy the same finding only warns.
    warned = chair_rules.discharge_findings(
        **{**kwargs, "settings": ChairSettings(discharge="warn")},
        scale_problems=[(p.fact, p.brief) for p in problems],
        scaled=scaled_effects(IV),
    )
    assert [f.blocks for f in warned] == [False]


def test_a_typed_score_is_checked_against_its_scale() -> None:
    assert score_problem(MOAAS, "5", SETTINGS) is None
    assert score_problem(MOAAS, "6", SETTINGS) == "the MOAA/S score runs 0-5; 6 is above it"
    assert score_problem(MOAAS, "", SETTINGS) == "type the MOAA/S score (0-5)"
    assert score_problem(CADSS, "92", SETTINGS) is None
    assert score_problem(CADSS, "-1", SETTINGS) == (
        "the CADSS score is a whole number 0-92, not “-1”"
    )
    short = ScaleSettings(cadss_name="CADSS-6", cadss_max=24)
    assert score_problem(CADSS, "30", short) == "the CADSS-6 score runs 0-24; 30 is above it"


def _iv_with(scales: Any) -> Any:
    raw = read_raw_config()
    data = copy.deepcopy(raw.session_types["session_types"]["iv_infusion"])
    data["scales"] = scales
    return parse_session_type("iv_infusion", data, "session_types.toml", "session_types.iv")


def test_scale_configuration_mistakes_name_the_entry() -> None:
    with pytest.raises(ConfigError, match=r"scales\[0\]\.scale: unknown scale 'ramsay'"):
        _iv_with([{"scale": "ramsay", "at": [0]}])
    with pytest.raises(ConfigError, match=r"scales\[0\]\.at: -5 is a negative minute"):
        _iv_with([{"scale": "moaas", "at": [-5, 10]}])
    with pytest.raises(ConfigError, match=r"scales\[1\]\.scale: 'moaas' appears twice"):
        _iv_with([{"scale": "moaas", "at": [0]}, {"scale": "moaas", "at": [10]}])
    with pytest.raises(ConfigError, match=r"scales\[0\]\.at: name when readings are owed"):
        _iv_with([{"scale": "cadss"}])
    assert _iv_with([{"scale": "cadss", "at_discharge": True}]).scales == (
        ScalePlan(CADSS, (), True),
    )


def test_scale_settings_mistakes_name_the_key() -> None:
    with pytest.raises(ConfigError, match=r"scales\.moaas_resolved: the MOAA/S runs 0-5, got 6"):
        parse_scale_settings({"moaas_resolved": 6})
    with pytest.raises(ConfigError, match=r"scales\.cadss_resolved_max: 30 is above"):
        parse_scale_settings({"cadss_max": 24, "cadss_resolved_max": 30})
    with pytest.raises(ConfigError, match=r"scales\.cadss_max: must be a whole number"):
        parse_scale_settings({"cadss_max": -1})
    with pytest.raises(ConfigError, match=r"scales\.moaas_threshold: not a setting"):
        parse_scale_settings({"moaas_threshold": 5})
