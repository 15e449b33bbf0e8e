"""Outcome measures (PHQ-9, GAD-7): instrument definitions, scoring and trends, as plain data.

Instruments come from configuration (``resources/config/measures.toml``); parsing checks every
field and names the exact place of a mistake ("measures.toml: instruments.phq9.bands[2].from:
..."), like :mod:`ketadesk.scheduling.catalog`.  Scoring refuses incomplete or impossible
answers with a message that names the item, so a form can show it at the field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from ketadesk.scheduling.catalog import (
    FOLLOWUP_KINDS,
    StaffRole,
    _check_code,
    _Reader,
)


class MeasureError(ValueError):
    """Answers or scores that cannot be scored; the message names the item where there is one."""

    def __init__(self, message: str, item: int | None = None) -> None:
        super().__init__(message)
        self.item = item  # 1-based item number, for marking the field on a form


@dataclass(frozen=True, slots=True)
class Band:
    low: int
    high: int
    label: str


@dataclass(frozen=True, slots=True)
class UrgentRule:
    """An answer above ``above`` to ``item`` (1-based) needs an urgent follow-up."""

    item: int
    above: int
    reason: str
    followup: str
    assignee_role: str


@dataclass(frozen=True, slots=True)
class InstrumentSpec:
    code: str
    name: str
    title: str
    period: str
    item_min: int
    item_max: int
    items: tuple[str, ...]
    answers: tuple[str, ...]
    bands: tuple[Band, ...]
    urgent: tuple[UrgentRule, ...]
    response_drop_percent: int
    remission_below: int | None

    @property
    def item_count(self) -> int:
        return len(self.items)

    @property
    def total_min(self) -> int:
        return self.item_min * self.item_count

    @property
    def total_max(self) -> int:
        return self.item_max * self.item_count

    def band_for(self, total: int) -> Band:
        for band in self.bands:
            if band.low <= total <= band.high:
                return band
        raise MeasureError(
            f"{self.name} total {total} is out of range {self.total_min}-{self.total_max}"
        )


@dataclass(frozen=True, slots=True)
class UrgentFlag:
    item: int
    answer: int
    message: str  # plain words, e.g. "PHQ-9 item 9 answered 2: thoughts of self-harm — ..."
    followup: str
    assignee_role: str


@dataclass(frozen=True, slots=True)
class Score:
    instrument: str  # the instrument's code, e.g. "phq9"
    total: int
    band: str
    urgent: tuple[UrgentFlag, ...]
    items: tuple[int, ...]

    @property
    def is_urgent(self) -> bool:
        return bool(self.urgent)


@dataclass(frozen=True, slots=True)
class Trend:
    """A patient's scores over time, measured against the first (baseline) score.

    ``response_line`` and ``remission_line`` are the horizontal lines a chart draws: a latest
    score at or below ``response_line`` is a response; a latest score below ``remission_line``
    is remission.
    """

    instrument: str
    points: tuple[tuple[date, int], ...]  # in date order
    baseline_date: date
    baseline: int
    latest_date: date
    latest: int
    change_percent: float | None  # (latest - baseline) / baseline; negative is improvement
    response: bool
    remission: bool | None  # None when the instrument defines no remission threshold
    response_line: float
    remission_line: int | None


# --------------------------------------------------------------------------------------------
# Scoring


def score(spec: InstrumentSpec, answers: Sequence[int | None]) -> Score:
    """Total, severity band and urgent flags for one completed questionnaire."""
    if len(answers) != spec.item_count:
        raise MeasureError(f"{spec.name} has {spec.item_count} items; got {len(answers)} answers")
    items: list[int] = []
    for number, answer in enumerate(answers, start=1):
        if answer is None:
            raise MeasureError(f"item {number} has no answer", number)
        if isinstance(answer, bool) or not isinstance(answer, int):
            raise MeasureError(f"item {number}: {answer!r} is not a whole number", number)
        if not spec.item_min <= answer <= spec.item_max:
            raise MeasureError(
                f"item {number}: {answer} is out of range {spec.item_min}-{spec.item_max}",
                number,
            )
        items.append(answer)
    total = sum(items)
    flags = tuple(
        UrgentFlag(
            item=rule.item,
            answer=items[rule.item - 1],
            message=(
                f"{spec.name} item {rule.item} answered {items[rule.item - 1]}: {rule.reason}"
            ),
            followup=rule.followup,
            assignee_role=rule.assignee_role,
        )
        for rule in spec.urgent
        if items[rule.item - 1] > rule.above
    )
    return Score(
        instrument=spec.code,
        total=total,
        band=spec.band_for(total).label,
        urgent=flags,
        items=tuple(items),
    )


def trend(spec: InstrumentSpec, scores_over_time: Sequence[tuple[date, int]]) -> Trend:
    """Baseline (earliest score), latest score, change, response and remission."""
    if not scores_over_time:
        raise MeasureError(f"{spec.name}: a trend needs at least one score")
    for when, total in scores_over_time:
        if isinstance(total, bool) or not isinstance(total, int):
            raise MeasureError(f"{spec.name} score on {when}: {total!r} is not a whole number")
        if not spec.total_min <= total <= spec.total_max:
            raise MeasureError(
                f"{spec.name} score on {when}: {total} is out of range "
                f"{spec.total_min}-{spec.total_max}"
            )
    points = tuple(sorted(scores_over_time, key=lambda p: p[0]))  # stable for equal dates
    baseline_date, baseline = points[0]
    latest_date, latest = points[-1]
    pct = spec.response_drop_percent
    # Whole-number arithmetic so that exactly 50 % counts (20 -> 10 is a response).
    response = baseline > 0 and (baseline - latest) * 100 >= pct * baseline
    remission = None if spec.remission_below is None else latest < spec.remission_below
    return Trend(
        instrument=spec.code,
        points=points,
        baseline_date=baseline_date,
        baseline=baseline,
        latest_date=latest_date,
        latest=latest,
        change_percent=(latest - baseline) * 100 / baseline if baseline else None,
        response=response,
        remission=remission,
        response_line=baseline * (100 - pct) / 100,
        remission_line=spec.remission_below,
    )


# --------------------------------------------------------------------------------------------
# Parsing


def parse_instrument(code: str, data: Any, source: str, path: str) -> InstrumentSpec:
    r = _Reader(data, path, source)
    _check_code(r, code)
    item_count = r.integer("item_count", minimum=1)
    items = r.str_list("items")
    if len(items) != item_count:
        raise r.fail("items", f"has {len(items)} prompts but item_count is {item_count}")
    if any(not prompt.strip() for prompt in items):
        raise r.fail("items", "every item needs its prompt text")
    item_min = r.integer("item_min", default=0)
    item_max = r.integer("item_max", minimum=1)
    if item_max <= item_min:
        raise r.fail("item_max", f"must be more than item_min ({item_min}), got {item_max}")
    answers = r.str_list("answers")
    if answers and len(answers) != item_max - item_min + 1:
        raise r.fail(
            "answers",
            f"needs one label for each answer {item_min}-{item_max} "
            f"({item_max - item_min + 1}), got {len(answers)}",
        )
    total_min, total_max = item_min * item_count, item_max * item_count
    bands = _parse_bands(r, total_min, total_max)
    urgent: list[UrgentRule] = []
    for ur in r.tables("urgent", required=False):
        item = ur.integer("item", minimum=1)
        if item > item_count:
            raise ur.fail("item", f"must be between 1 and {item_count}, got {item}")
        above = ur.integer("above", minimum=item_min)
        if above >= item_max:
            raise ur.fail(
                "above", f"must be less than item_max ({item_max}) or nothing triggers it"
            )
        urgent.append(
            UrgentRule(
                item=item,
                above=above,
                reason=ur.text("reason"),
                followup=ur.choice("followup", FOLLOWUP_KINDS, default="urgent_review"),
                assignee_role=ur.choice(
                    "assignee_role", [s.value for s in StaffRole], default="prescriber"
                ),
            )
        )
    response_pct = r.integer("response_drop_percent", default=50, minimum=1)
    if response_pct > 100:
        raise r.fail("response_drop_percent", f"must be at most 100, got {response_pct}")
    remission = r.opt_int("remission_below")
    if remission is not None and not total_min < remission <= total_max:
        raise r.fail("remission_below", f"must lie in {total_min + 1}-{total_max}, got {remission}")
    return InstrumentSpec(
        code=code,
        name=r.text("name"),
        title=r.text("title", default=r.text("name")),
        period=r.text("period", default=""),
        item_min=item_min,
        item_max=item_max,
        items=items,
        answers=answers,
        bands=bands,
        urgent=tuple(urgent),
        response_drop_percent=response_pct,
        remission_below=remission,
    )


def _parse_bands(r: _Reader, total_min: int, total_max: int) -> tuple[Band, ...]:
    bands: list[Band] = []
    expected = total_min
    for br in r.tables("bands"):
        low = br.integer("from")
        if low != expected:
            after = (
                f"right after the previous band ends at {expected - 1}"
                if bands
                else "the lowest possible total"
            )
            raise br.fail("from", f"must be {expected} ({after}), got {low}")
        high = br.integer("to")
        if high < low:
            raise br.fail("to", f"must not be less than from ({low}), got {high}")
        if high > total_max:
            raise br.fail("to", f"must be at most {total_max}, the highest possible total")
        label = br.text("label")
        if not label.strip():
            raise br.fail("label", "must not be empty")
        bands.append(Band(low, high, label))
        expected = high + 1
    if not bands:
        raise r.fail("bands", "needs at least one band")
    if expected != total_max + 1:
        raise r.fail(
            f"bands[{len(bands) - 1}].to",
            f"must be {total_max}, the highest possible total, so that every score has a band; "
            f"got {expected - 1}",
        )
    return tuple(bands)


def parse_measures(data: Any, source: str) -> dict[str, InstrumentSpec]:
    root = _Reader(data, "", source)
    table = root.table("instruments")
    specs = {
        code: parse_instrument(code, value, source, f"instruments.{code}")
        for code, value in table.data.items()
    }
    if not specs:
        raise root.fail("instruments", "needs at least one instrument")
    return specs
