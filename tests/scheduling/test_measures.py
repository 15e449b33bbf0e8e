"""Outcome measures: PHQ-9 and GAD-7 scored against their published bands, the urgent path for
PHQ-9 item 9, refused answers named by item, response and remission in trends, and configuration
mistakes named by file and key.  Uses the shipped ``resources/config/measures.toml``.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from ketadesk.config import load_measures
from ketadesk.paths import config_dir
from ketadesk.scheduling.catalog import ConfigError
from ketadesk.scheduling.measures import (
    InstrumentSpec,
    MeasureError,
    parse_measures,
    score,
    trend,
)


@pytest.fixture(scope="module")
def measures() -> dict[str, InstrumentSpec]:
    return load_measures()


@pytest.fixture
def phq9(measures: dict[str, InstrumentSpec]) -> InstrumentSpec:
    return measures["phq9"]


@pytest.fixture
def gad7(measures: dict[str, InstrumentSpec]) -> InstrumentSpec:
    return measures["gad7"]


@pytest.fixture
def config_copy(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(config_dir(), target)
    return target


def _answers_totalling(total: int, count: int) -> list[int | None]:
    """Answers of 0-3 adding up to ``total``, filling the first items first."""
    answers: list[int | None] = []
    left = total
    for _ in range(count):
        answers.append(min(3, left))
        left -= min(3, left)
    assert left == 0, "total not reachable"
    return answers


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


# --- the shipped definitions ------------------------------------------------------------------


def test_shipped_instruments_match_the_published_scales(
    phq9: InstrumentSpec, gad7: InstrumentSpec
) -> None:
    assert (phq9.name, phq9.item_count, phq9.total_max) == ("PHQ-9", 9, 27)
    assert (gad7.name, gad7.item_count, gad7.total_max) == ("GAD-7", 7, 21)
    assert phq9.items[0] == "Little interest or pleasure in doing things"
    assert "hurting yourself" in phq9.items[8]
    assert len(phq9.answers) == 4
    assert [(b.low, b.high) for b in phq9.bands] == [(0, 4), (5, 9), (10, 14), (15, 19), (20, 27)]
    assert [(b.low, b.high) for b in gad7.bands] == [(0, 4), (5, 9), (10, 14), (15, 21)]
    assert phq9.response_drop_percent == 50
    assert phq9.remission_below == 5
    assert not gad7.urgent


# --- scoring at every band boundary -----------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "moderately severe"),
        (19, "moderately severe"),
        (20, "severe"),
        (27, "severe"),
    ],
)
def test_phq9_bands_at_every_boundary(phq9: InstrumentSpec, total: int, band: str) -> None:
    answers = _answers_totalling(total, 9)
    result = score(phq9, answers)
    assert (result.instrument, result.total, result.band) == ("phq9", total, band)
    assert result.is_urgent == (total > 24)  # only 25-27 need item 9 answered above 0
    assert result.is_urgent == bool(answers[8])


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "severe"),
        (21, "severe"),
    ],
)
def test_gad7_bands_at_every_boundary(gad7: InstrumentSpec, total: int, band: str) -> None:
    result = score(gad7, _answers_totalling(total, 7))
    assert (result.instrument, result.total, result.band) == ("gad7", total, band)


def test_score_keeps_the_item_answers(phq9: InstrumentSpec) -> None:
    answers = [3, 2, 1, 0, 3, 2, 1, 0, 0]
    result = score(phq9, answers)
    assert result.items == tuple(answers)
    assert result.total == 12


# --- the urgent path for PHQ-9 item 9 ---------------------------------------------------------


def test_item_9_answered_0_is_not_urgent(phq9: InstrumentSpec) -> None:
    result = score(phq9, [3, 3, 3, 3, 3, 3, 3, 3, 0])
    assert result.band == "severe"
    assert result.urgent == ()
    assert not result.is_urgent


@pytest.mark.parametrize("answer", [1, 2, 3])
def test_item_9_above_0_is_urgent_for_a_prescriber(phq9: InstrumentSpec, answer: int) -> None:
    result = score(phq9, [0] * 8 + [answer])
    assert result.band == "minimal"  # urgent however low the total
    assert result.is_urgent
    (flag,) = result.urgent
    assert (flag.item, flag.answer) == (9, answer)
    assert flag.assignee_role == "prescriber"
    assert flag.followup == "urgent_review"
    assert flag.message == (
        f"PHQ-9 item 9 answered {answer}: thoughts of self-harm — urgent prescriber review"
    )


def test_gad7_has_no_urgent_path(gad7: InstrumentSpec) -> None:
    assert not score(gad7, [3] * 7).is_urgent


# --- refused answers, named by item -----------------------------------------------------------


def test_missing_answer_is_refused_with_the_item_named(phq9: InstrumentSpec) -> None:
    answers: list[int | None] = [1, 1, 1, None, 1, 1, 1, 1, 0]
    with pytest.raises(MeasureError, match=r"^item 4 has no answer$") as err:
        score(phq9, answers)
    assert err.value.item == 4


def test_out_of_range_answer_is_refused_with_the_item_named(phq9: InstrumentSpec) -> None:
    with pytest.raises(MeasureError, match=r"^item 3: 4 is out of range 0-3$") as err:
        score(phq9, [0, 0, 4, 0, 0, 0, 0, 0, 0])
    assert err.value.item == 3


def test_negative_answer_is_refused(gad7: InstrumentSpec) -> None:
    with pytest.raises(MeasureError, match=r"^item 7: -1 is out of range 0-3$"):
        score(gad7, [0, 0, 0, 0, 0, 0, -1])


def test_answer_that_is_not_a_number_is_refused(gad7: InstrumentSpec) -> None:
    with pytest.raises(MeasureError, match=r"^item 1: True is not a whole number$"):
        score(gad7, [True, 0, 0, 0, 0, 0, 0])


@pytest.mark.parametrize("count", [0, 8, 10])
def test_wrong_number_of_answers_is_refused(phq9: InstrumentSpec, count: int) -> None:
    with pytest.raises(MeasureError, match=rf"^PHQ-9 has 9 items; got {count} answers$"):
        score(phq9, [0] * count)


def test_measure_error_is_a_value_error() -> None:
    assert issubclass(MeasureError, ValueError)


# --- trends: response and remission -----------------------------------------------------------


def test_a_50_percent_drop_is_a_response(phq9: InstrumentSpec) -> None:
    t = trend(phq9, [(date(2026, 3, 2), 20), (date(2026, 3, 9), 14), (date(2026, 3, 16), 10)])
    assert (t.baseline, t.baseline_date) == (20, date(2026, 3, 2))
    assert (t.latest, t.latest_date) == (10, date(2026, 3, 16))
    assert t.change_percent == -50.0
    assert t.response
    assert t.remission is False
    assert t.response_line == 10.0
    assert t.remission_line == 5


def test_just_short_of_50_percent_is_not_a_response(phq9: InstrumentSpec) -> None:
    t = trend(phq9, [(date(2026, 3, 2), 20), (date(2026, 3, 16), 11)])
    assert not t.response
    assert t.change_percent == -45.0


def test_a_latest_score_below_5_is_remission(phq9: InstrumentSpec) -> None:
    t = trend(phq9, [(date(2026, 3, 2), 18), (date(2026, 4, 1), 4)])
    assert t.response
    assert t.remission is True


def test_a_latest_score_of_5_is_not_remission(phq9: InstrumentSpec) -> None:
    assert trend(phq9, [(date(2026, 3, 2), 18), (date(2026, 4, 1), 5)]).remission is False


def test_baseline_is_the_earliest_score_whatever_the_order(phq9: InstrumentSpec) -> None:
    t = trend(phq9, [(date(2026, 3, 16), 9), (date(2026, 3, 2), 16), (date(2026, 3, 9), 12)])
    assert [p[1] for p in t.points] == [16, 12, 9]
    assert (t.baseline, t.latest) == (16, 9)
    assert t.response_line == 8.0
    assert not t.response


def test_a_single_score_is_its_own_baseline(phq9: InstrumentSpec) -> None:
    t = trend(phq9, [(date(2026, 3, 2), 12)])
    assert t.baseline == t.latest == 12
    assert t.change_percent == 0.0
    assert not t.response


def test_a_baseline_of_0_cannot_show_a_response(phq9: InstrumentSpec) -> None:
    t = trend(phq9, [(date(2026, 3, 2), 0), (date(2026, 3, 9), 0)])
    assert t.change_percent is None
    assert not t.response
    assert t.remission is True


def test_worsening_shows_a_positive_change(gad7: InstrumentSpec) -> None:
    t = trend(gad7, [(date(2026, 3, 2), 8), (date(2026, 3, 9), 12)])
    assert t.change_percent == 50.0
    assert not t.response
    assert t.remission is False


def test_remission_follows_the_configured_threshold(config_copy: Path) -> None:
    path = config_copy / "measures.toml"
    text = path.read_text(encoding="utf-8")
    gad7_at = text.index("[instruments.gad7]")
    path.write_text(
        text[:gad7_at] + text[gad7_at:].replace("remission_below = 5", "remission_below = 8"),
        encoding="utf-8",
    )
    measures = load_measures(config_copy)
    assert measures["phq9"].remission_below == 5
    assert trend(measures["gad7"], [(date(2026, 3, 2), 15), (date(2026, 3, 9), 7)]).remission


def test_no_remission_threshold_means_no_remission_verdict(config_copy: Path) -> None:
    _edit(config_copy / "measures.toml", "remission_below = 5\n", "\n")
    t = trend(load_measures(config_copy)["phq9"], [(date(2026, 3, 2), 3)])
    assert t.remission is None
    assert t.remission_line is None


def test_a_trend_needs_scores_in_range(phq9: InstrumentSpec) -> None:
    with pytest.raises(MeasureError, match="at least one score"):
        trend(phq9, [])
    with pytest.raises(MeasureError, match=r"score on 2026-03-02: 28 is out of range 0-27"):
        trend(phq9, [(date(2026, 3, 2), 28)])


# --- configuration mistakes named by file and key ---------------------------------------------


def test_bands_with_a_gap_are_named(config_copy: Path) -> None:
    _edit(config_copy / "measures.toml", "{ from = 10, to = 14", "{ from = 11, to = 14")
    with pytest.raises(ConfigError) as err:
        load_measures(config_copy)
    message = str(err.value)
    assert "measures.toml: instruments.phq9.bands[2].from" in message
    assert "must be 10 (right after the previous band ends at 9), got 11" in message


def test_bands_that_stop_short_of_the_highest_total_are_named(config_copy: Path) -> None:
    _edit(
        config_copy / "measures.toml",
        '{ from = 15, to = 21, label = "severe" }',
        ('{ from = 15, to = 20, label = "severe" }'),
    )
    with pytest.raises(ConfigError, match=r"instruments\.gad7\.bands\[3\]\.to: must be 21"):
        load_measures(config_copy)


def test_bands_past_the_highest_total_are_named(config_copy: Path) -> None:
    _edit(config_copy / "measures.toml", "{ from = 20, to = 27", "{ from = 20, to = 30")
    with pytest.raises(ConfigError, match=r"instruments\.phq9\.bands\[4\]\.to: must be at most 27"):
        load_measures(config_copy)


def test_item_count_that_does_not_match_the_prompts_is_named(config_copy: Path) -> None:
    _edit(config_copy / "measures.toml", "item_count = 9", "item_count = 10")
    with pytest.raises(
        ConfigError, match=r"instruments\.phq9\.items: has 9 prompts but item_count is 10"
    ):
        load_measures(config_copy)


def test_item_range_that_is_not_a_number_is_named(config_copy: Path) -> None:
    _edit(config_copy / "measures.toml", "item_max = 3", 'item_max = "three"')
    with pytest.raises(ConfigError) as err:
        load_measures(config_copy)
    assert "measures.toml: instruments.phq9.item_max: must be a whole number, got 'three'" in str(
        err.value
    )


def test_urgent_rule_for_a_missing_item_is_named(config_copy: Path) -> None:
    _edit(config_copy / "measures.toml", "item = 9\n", "item = 10\n")
    with pytest.raises(
        ConfigError, match=r"instruments\.phq9\.urgent\[0\]\.item: must be between 1 and 9"
    ):
        load_measures(config_copy)


def test_urgent_rule_for_an_unknown_role_is_named(config_copy: Path) -> None:
    _edit(config_copy / "measures.toml", 'assignee_role = "prescriber"', 'assignee_role = "doc"')
    with pytest.raises(ConfigError, match=r"instruments\.phq9\.urgent\[0\]\.assignee_role"):
        load_measures(config_copy)


def test_response_percent_above_100_is_named(config_copy: Path) -> None:
    _edit(
        config_copy / "measures.toml", "response_drop_percent = 50", "response_drop_percent = 150"
    )
    with pytest.raises(
        ConfigError, match=r"instruments\.phq9\.response_drop_percent: must be at most 100"
    ):
        load_measures(config_copy)


def test_wrong_number_of_answer_labels_is_named(config_copy: Path) -> None:
    _edit(config_copy / "measures.toml", '"Nearly every day"]', "]")
    with pytest.raises(ConfigError, match=r"instruments\.phq9\.answers: needs one label"):
        load_measures(config_copy)


def test_missing_measures_file_is_named(config_copy: Path) -> None:
    (config_copy / "measures.toml").unlink()
    with pytest.raises(ConfigError, match=r"measures\.toml: configuration file not found"):
        load_measures(config_copy)


def test_parse_measures_names_the_source_it_is_given() -> None:
    with pytest.raises(ConfigError, match=r"^db:measures: instruments: is missing$"):
        parse_measures({}, "db:measures")
    with pytest.raises(ConfigError, match=r"^db:measures: instruments: needs at least one"):
        parse_measures({"instruments": {}}, "db:measures")
    with pytest.raises(ConfigError, match=r"instruments\.PHQ: the name 'PHQ' must be lower-case"):
        parse_measures({"instruments": {"PHQ": {}}}, "db:measures")
