"""Patients and their journeys through care, for the demo plan (see ``Journeys``)."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Generator, Mapping, Sequence

from ketadesk.config import Catalog
from ketadesk.scheduling.catalog import WEEKDAYS, ProtocolSpec
from ketadesk.services.demo.facts import (
    BOOSTER_COUNTS,
    HISTORY_AFTER_WEEKS,
    HISTORY_MIX,
    HISTORY_UTILISATION,
    INTAKE,
    INTAKE_LEAD_DAYS,
    IV,
    IV_BOOSTER,
    IV_INDUCTION,
    KAP_PROGRAM,
    MAINTENANCE_SERIES_COUNTS,
    MAX_MISSES_IN_A_ROW,
    REVIEW,
    SPRAVATO,
    SPRAVATO_MAINTENANCE,
    SPRAVATO_MDD_SI,
    SPRAVATO_TRD,
    STATES,
    WARM_UP_WEEKS,
    WEEKDAY_SHIFTS,
)
from ketadesk.services.demo.layout import open_minutes
from ketadesk.services.demo.planned import (
    Journey,
    PatientPlan,
    SeriesPlan,
    Slot,
    Visit,
    Want,
    days_of,
)


class Journeys:
    """What each patient's care asks for, session by session: today's caseload in every state of
    care, the past patients of a longer history, and the journey (intake, series, boosters,
    maintenance, dropping out) each one walks.

    A journey is a generator: it yields the session it wants next and is sent the visit it got
    (None when no slot was free).  It shares the plan's random generator and lists, so the plan
    stays the same for a given seed.
    """

    def __init__(
        self,
        catalog: Catalog,
        templates: Sequence[Sequence[Slot]],
        *,
        rng: random.Random,
        today: dt.date,
        first_day: dt.date,
        weeks_back: int,
        caseload: int,
        patients: list[PatientPlan],
        series: list[SeriesPlan],
    ) -> None:
        self.catalog = catalog
        self.protocols = catalog.protocols
        self.templates = templates
        self.rng = rng
        self.today = today
        self.first_day = first_day
        self.weeks_back = weeks_back
        self.caseload = caseload
        self.patients = patients
        self.series = series

    def _new_patient(self, state: str, historical: bool) -> PatientPlan:
        rng = self.rng
        hours = open_minutes(self.catalog, 1) or (8 * 60, 17 * 60)
        p = PatientPlan(
            seq=len(self.patients),
            state=state,
            historical=historical,
            pref_minute=rng.randrange(hours[0], max(hours[0] + 5, hours[1] - 150), 5),
            baseline=rng.randint(14, 25),
            responder=rng.random() < 0.72,
            floor=rng.uniform(0.2, 0.5),
            weekday_shift=rng.choice(WEEKDAY_SHIFTS),
        )
        self.patients.append(p)
        return p

    def current_caseload(self) -> list[PatientPlan]:
        total = sum(w for _, w in STATES)
        shares = [(state, self.caseload * w / total) for state, w in STATES]
        counts = {state: int(share) for state, share in shares}
        if self.caseload >= len(STATES):
            for state in counts:
                counts[state] = max(1, counts[state])
        missing = self.caseload - sum(counts.values())
        by_remainder = sorted(shares, key=lambda s: (-(s[1] - int(s[1])), s[0]))
        i = 0
        while missing != 0 and by_remainder:
            state = by_remainder[i % len(by_remainder)][0]
            if missing > 0:
                counts[state] += 1
                missing -= 1
            elif counts[state] > 1:
                counts[state] -= 1
                missing += 1
            i += 1
        states = [state for state, _ in STATES for _ in range(counts[state])]
        self.rng.shuffle(states)
        return [self._new_patient(state, historical=False) for state in states]

    def _weekly_supply(self) -> dict[str, float]:
        supply: dict[str, float] = {}
        for template in self.templates:
            for slot in template:
                supply[slot.code] = supply.get(slot.code, 0.0) + 1.0
        return supply

    def _protocol_sessions(self, code: str) -> dict[str, float]:
        counts: dict[str, float] = {}
        for stage in self.protocols[code].stages:
            counts[stage.session_type] = counts.get(stage.session_type, 0.0) + stage.count
            if stage.followed_by is not None:
                fb = stage.followed_by.session_type
                counts[fb] = counts.get(fb, 0.0) + stage.count
        return counts

    def past_patients(self) -> list[PatientPlan]:
        """Patients who came and (mostly) went before today's caseload, enough to keep the
        clinic about as busy in the past as it is now."""
        if self.weeks_back <= HISTORY_AFTER_WEEKS:
            return []
        demand: dict[str, float] = {}

        def add(counts: Mapping[str, float], weight: float) -> None:
            for code, n in counts.items():
                demand[code] = demand.get(code, 0.0) + n * weight

        total = sum(w for _, w in HISTORY_MIX)
        mix = {kind: w / total for kind, w in HISTORY_MIX}
        boosters = sum(BOOSTER_COUNTS) / len(BOOSTER_COUNTS)
        maintenance = sum(MAINTENANCE_SERIES_COUNTS) / len(MAINTENANCE_SERIES_COUNTS)
        add(self._protocol_sessions(IV_INDUCTION), mix["iv"])
        add(self._protocol_sessions(IV_BOOSTER), mix["iv"] * boosters)
        add(self._protocol_sessions(SPRAVATO_TRD), mix["spravato"])
        add(self._protocol_sessions(SPRAVATO_MAINTENANCE), mix["spravato"] * maintenance)
        add(self._protocol_sessions(SPRAVATO_MDD_SI), mix["mdd"])
        add(self._protocol_sessions(KAP_PROGRAM), mix["kap"])
        add({IV: 1.0, SPRAVATO: 1.0}, mix["dropped"])
        supply = self._weekly_supply()
        per_week = min(
            (supply.get(code, 0.0) / need for code, need in demand.items() if need > 0),
            default=0.0,
        )
        weekly_patients = HISTORY_UTILISATION * per_week
        first = self.first_day - days_of(7 * WARM_UP_WEEKS)
        last = self.today - days_of(7 * HISTORY_AFTER_WEEKS)
        span = (last - first).days
        count = round(weekly_patients * span / 7)
        kinds = [k for k, _ in HISTORY_MIX]
        weights = [w for _, w in HISTORY_MIX]
        past = []
        for _ in range(count):
            p = self._new_patient(self.rng.choices(kinds, weights)[0], historical=True)
            p.start_day = first + days_of(self.rng.randint(0, span))
            past.append(p)
        past.sort(key=lambda p: (p.start_day or self.today, p.seq))
        return past

    # -- journeys ---------------------------------------------------------------------------------

    def journey(self, p: PatientPlan) -> Journey:
        """Today's caseload: each journey is timed so that the patient is in ``p.state`` now."""
        rng = self.rng
        t = self.today

        def ago(a: int, b: int) -> dt.date:
            return t - days_of(rng.randint(a, b))

        state = p.state
        if state == "screening_pending":
            return
        if state == "intake_scheduled":
            yield from self._intake(p, t + days_of(1), t + days_of(12))
        elif state == "intake_done":
            yield from self._intake(p, t - days_of(20), t - days_of(2))
            p.eligible = rng.random() > 0.25
        elif state == "iv_starting":
            first = t + days_of(rng.randint(1, 10))
            yield from self._program(p, IV_INDUCTION, first, first + days_of(3), screened_by=t)
        elif state == "iv_induction":
            first = ago(1, 11)
            yield from self._program(p, IV_INDUCTION, first, first + days_of(2))
        elif state == "iv_completed":
            first = ago(16, 30)
            series = yield from self._program(p, IV_INDUCTION, first, first + days_of(2))
            yield from self._after_induction(p, series, boosters=0)
        elif state == "iv_boosters":
            first = ago(70, 200)
            series = yield from self._program(p, IV_INDUCTION, first, first + days_of(3))
            yield from self._after_induction(p, series, boosters=99)
        elif state == "spravato_induction":
            code = SPRAVATO_MDD_SI if rng.random() < 0.25 else SPRAVATO_TRD
            first = ago(0, 24)
            yield from self._program(p, code, first, first + days_of(2))
        elif state == "spravato_optimization":
            first = ago(30, 52)
            yield from self._program(p, SPRAVATO_TRD, first, first + days_of(2))
        elif state == "spravato_maintenance":
            first = ago(60, 150)
            series = yield from self._program(p, SPRAVATO_TRD, first, first + days_of(3))
            yield from self._maintenance(p, series, 99)
        elif state == "kap_program":
            first = ago(3, 30)
            yield from self._program(p, KAP_PROGRAM, first, first + days_of(6))
        elif state == "dropped_out":
            code = IV_INDUCTION if rng.random() < 0.6 else SPRAVATO_TRD
            first = ago(8, 35)
            yield from self._program(
                p, code, first, first + days_of(2), dropout_after=rng.choice((1, 1, 2))
            )
        elif state == "discharged":
            roll = rng.random()
            if roll < 0.4:
                first = ago(45, 70)
                yield from self._program(p, KAP_PROGRAM, first, first + days_of(6))
            elif roll < 0.7:
                first = ago(40, 60)
                yield from self._program(p, SPRAVATO_MDD_SI, first, first + days_of(2))
            else:
                first = ago(35, 60)
                yield from self._program(p, IV_INDUCTION, first, first + days_of(2))

    def history_journey(self, p: PatientPlan) -> Journey:
        rng = self.rng
        first = p.start_day or self.today
        kind = p.state
        p.state = "history"
        if kind == "iv":
            series = yield from self._program(p, IV_INDUCTION, first, first + days_of(4))
            yield from self._after_induction(p, series, boosters=rng.choice(BOOSTER_COUNTS))
        elif kind == "spravato":
            series = yield from self._program(p, SPRAVATO_TRD, first, first + days_of(4))
            yield from self._maintenance(p, series, rng.choice(MAINTENANCE_SERIES_COUNTS))
        elif kind == "mdd":
            yield from self._program(p, SPRAVATO_MDD_SI, first, first + days_of(4))
        elif kind == "kap":
            yield from self._program(p, KAP_PROGRAM, first, first + days_of(7))
        elif kind == "dropped":
            code = IV_INDUCTION if rng.random() < 0.6 else SPRAVATO_TRD
            yield from self._program(
                p, code, first, first + days_of(4), dropout_after=rng.choice((1, 1, 2))
            )
        else:
            yield from self._intake(p, first, first + days_of(10))
            p.eligible = rng.random() < 0.5

    def _intake(
        self, p: PatientPlan, lo: dt.date, hi: dt.date
    ) -> Generator[Want, Visit | None, Visit | None]:
        target = lo + days_of(self.rng.randint(0, max(0, (hi - lo).days)))
        visit = yield Want(INTAKE, lo, hi, target)
        if visit is not None and not visit.active:
            again = visit.day + days_of(2)
            visit = yield Want(INTAKE, again, again + days_of(10), again, after=visit)
        if visit is not None and visit.status == "completed":
            p.intake = visit
        return visit

    def _program(
        self,
        p: PatientPlan,
        protocol: str,
        lo: dt.date,
        hi: dt.date,
        *,
        dropout_after: int | None = None,
        screened_by: dt.date | None = None,
    ) -> Generator[Want, Visit | None, SeriesPlan | None]:
        """An intake some days ahead (before ``screened_by``), then the protocol's series, if
        the intake happened."""
        latest = lo - days_of(INTAKE_LEAD_DAYS)
        if screened_by is not None:
            latest = min(latest, screened_by - days_of(1))
        intake = yield from self._intake(p, latest - days_of(self.rng.randint(5, 16)), latest)
        if intake is None or intake.status != "completed":
            return None
        first = max(lo, intake.day + days_of(INTAKE_LEAD_DAYS))
        hi = max(hi, first + days_of(6))
        return (yield from self._series(p, protocol, first, hi, dropout_after=dropout_after))

    def _series(
        self,
        p: PatientPlan,
        protocol: str,
        lo: dt.date,
        hi: dt.date,
        *,
        target: dt.date | None = None,
        gap: int | None = None,
        dropout_after: int | None = None,
    ) -> Generator[Want, Visit | None, SeriesPlan]:
        """One series by its protocol.  Consecutive appointments, a missed one included, keep
        the stage's gaps.  A missed session of a stage with a window (an induction) leaves a
        visible gap and the schedule goes on; elsewhere it is made up.  Two misses in a row, or
        a patient who means to drop out, end the series."""
        spec: ProtocolSpec = self.protocols[protocol]
        series = SeriesPlan(patient=p, protocol=protocol, planned=spec.session_count)
        series.weekdays = self._weekday_pattern(spec, p)
        self.series.append(series)
        index = attended = misses = 0
        last: dt.date | None = None  # the latest appointment, attended or missed
        missed: Visit | None = None
        pref: tuple[int, int] | None = None
        for stage in spec.stages:
            stage_first: dt.date | None = None
            kept: list[dt.date] = []  # the stage's attended days, for its doses-per-window cap
            for _ in range(stage.count):
                index += 1
                while True:
                    if last is None:
                        w_lo, w_hi, w_target = lo, hi, target or lo
                    elif attended == 0 and index == 1:  # the first session, made up
                        w_lo = max(lo, last + days_of(1))
                        w_hi, w_target = w_lo + (hi - lo), w_lo
                    else:
                        w_lo = last + days_of(stage.min_gap_days)
                        w_hi = last + days_of(stage.max_gap_days)
                        step = gap if gap is not None else stage.target_gap_days
                        w_target = min(max(last + days_of(step), w_lo), w_hi)
                        if stage_first is not None and stage.window_days is not None:
                            w_hi = min(w_hi, stage_first + days_of(stage.window_days - 1))
                        cap = stage.window_cap
                        if cap is not None and len(kept) >= cap.sessions:
                            # At most cap.sessions in any cap.days days (protocol_rules).
                            w_lo = max(w_lo, kept[-cap.sessions] + days_of(cap.days))
                            w_target = max(w_target, w_lo)
                    if w_hi < w_lo:
                        break  # the stage's window is used up: on to the next stage
                    force = None
                    if dropout_after is not None and attended >= dropout_after:
                        force = self.rng.choice(("no_show", "cancelled"))
                    visit = yield Want(
                        stage.session_type,
                        w_lo,
                        w_hi,
                        w_target,
                        weekdays=series.weekdays,
                        series=series,
                        index=index,
                        pref=pref,
                        force=force,
                        after=missed,
                    )
                    if visit is None:
                        series.stalled_on = w_lo
                        series.dropped = w_lo <= self.today
                        return series
                    last = visit.day
                    pref = pref or (visit.slot.lane, visit.slot.minute)
                    if visit.active:
                        attended += 1
                        misses = 0
                        missed = None
                        stage_first = stage_first or visit.day
                        kept.append(visit.day)
                        break
                    misses += 1
                    if force is not None or misses >= MAX_MISSES_IN_A_ROW:
                        series.dropped = True
                        return series
                    if stage.window_days is not None:
                        break  # keep the schedule: the missed session stays a visible gap
                    missed = visit  # make it up: a new booking with the same number
                if w_hi < w_lo:
                    break
                if stage.followed_by is not None and missed is None and last is not None:
                    index += 1
                    fb = stage.followed_by
                    f_lo = last + days_of(fb.min_days)
                    yield Want(
                        fb.session_type,
                        f_lo,
                        last + days_of(fb.max_days),
                        f_lo,
                        series=series,
                        index=index,
                    )
        series.finished = True
        return series

    def _weekday_pattern(self, spec: ProtocolSpec, p: PatientPlan) -> frozenset[int]:
        """The protocol's usual weekdays, or the same rhythm moved to other days that suit the
        patient (and on which the clinic offers every session the protocol needs)."""
        default = [WEEKDAYS.index(d) for d in spec.default_weekdays]
        if not default or p.weekday_shift == 0:
            return frozenset(default)
        codes = {s.session_type for s in spec.stages}
        codes |= {s.followed_by.session_type for s in spec.stages if s.followed_by is not None}
        offered = [codes <= {slot.code for slot in template} for template in self.templates]
        days: set[int] = set()
        for day in sorted((d + p.weekday_shift) % 7 for d in default):
            # A day the clinic does not offer moves to the nearest free one that it does.
            for step in (0, -1, 1, -2, 2):
                moved = (day + step) % 7
                if offered[moved] and moved not in days:
                    days.add(moved)
                    break
        return frozenset(days if len(days) == len(default) else default)

    def _after_induction(
        self, p: PatientPlan, series: SeriesPlan | None, *, boosters: int
    ) -> Journey:
        """A booster review with the prescriber, then boosters for as long as they help."""
        if series is None or not series.finished:
            return
        last = series.last_active_day()
        on_complete = self.protocols[series.protocol].stages[-1].on_complete
        if last is None or on_complete is None:
            return
        lo = last + days_of(on_complete.min_days)
        target = lo + days_of(self.rng.randint(0, 7))
        review = yield Want(REVIEW, lo, last + days_of(on_complete.max_days), target)
        after = review.day if review is not None and review.active else lo
        lo, hi = after + days_of(1), after + days_of(10)
        for _ in range(boosters):
            booster = yield from self._series(p, IV_BOOSTER, lo, hi, target=lo)
            day = booster.last_active_day()
            oc = self.protocols[IV_BOOSTER].stages[-1].on_complete
            if not booster.finished or day is None or oc is None:
                return
            # Boosters come in the later half of the booster-review window.
            lo = day + days_of((oc.min_days + oc.max_days) // 2)
            hi = day + days_of(oc.max_days)

    def _maintenance(self, p: PatientPlan, series: SeriesPlan | None, count: int) -> Journey:
        """Spravato maintenance after induction: series after series, weekly or fortnightly."""
        if series is None or not series.finished:
            return
        last = series.last_active_day()
        stage = self.protocols[SPRAVATO_MAINTENANCE].stages[0]
        weekly = self.rng.random() < 0.3
        gap = min(
            max(7 if weekly else stage.target_gap_days, stage.min_gap_days), stage.max_gap_days
        )
        for _ in range(count):
            if last is None:
                return
            lo, hi = last + days_of(stage.min_gap_days), last + days_of(stage.max_gap_days)
            target = min(max(last + days_of(gap), lo), hi)
            following = yield from self._series(
                p, SPRAVATO_MAINTENANCE, lo, hi, target=target, gap=gap
            )
            if not following.finished:
                return
            last = following.last_active_day()
