"""The demo's follow-ups and measures as rows: what each visit owes (PHQ-9s, next-day calls,
REMS forms, booster reviews), how the calls went, and the scores taken.

``FollowUpRows`` is the part of the row writer that knows the follow-up rules; ``RowWriter``
(``writer.py``) builds on it.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from ketadesk.scheduling.catalog import SessionTypeSpec
from ketadesk.scheduling.dropout import OUTREACH_CALL, parse_dropout_settings, puts_at_risk
from ketadesk.scheduling.followup_rules import STARTED_STATUSES, reattempt_at
from ketadesk.scheduling.statuses import ATTENDED_STATUSES
from ketadesk.services.demo import people
from ketadesk.services.demo.facts import INTAKE, IV, REVIEW
from ketadesk.services.demo.plan import DemoPlan
from ketadesk.services.demo.planned import MINUTE, Progress, SeriesPlan, Visit, days_of
from ketadesk.services.demo.rows import RowSink

STALE_FOLLOW_UP_DAYS = 30  # older open follow-ups were closed when the patient was discharged
# What became of the outreach calls of the older misses (services/followups/sync.py words the
# first).
_MADE_UP = "Answered: make-up booked"
_REACHED = "Reached; talked over what got in the way and the next session"


@dataclass(slots=True)
class _Task:
    """A follow-up being written: what, for whom, when it is due."""

    visit: Visit
    kind: str
    role: str
    assignee: int | None
    due: dt.datetime
    deadline: dt.datetime | None
    priority: str = "normal"


class FollowUpRows(RowSink):
    """Writes the follow-ups and measures of the plan's visits (see the module's docstring)."""

    def __init__(self, plan: DemoPlan, session: Session, say: Progress) -> None:
        super().__init__(session, say)
        self.plan = plan
        self.rng = random.Random(plan.seed * 7919 + 1)
        self.calendar = plan.calendar
        self.now = plan.now
        self.today = plan.today
        self.layout = plan.layout
        self.urgent: Visit | None = None
        self.dropout = parse_dropout_settings(plan.settings.extra.get("dropout"))

    # -- who did it ----------------------------------------------------------------------------

    def _user(self, staff_id: int | None, role: str) -> int:
        if staff_id is not None and staff_id in self.layout.user_of:
            return self.layout.user_of[staff_id]
        users = self.layout.users_of_role(role)
        return users[0] if users else self.layout.admin_user

    def _front_desk(self) -> int:
        users = self.layout.users_of_role("front_desk")
        return self.rng.choice(users) if users else self.layout.admin_user

    def _series_status(self, s: SeriesPlan) -> str:
        statuses = {v.status for v in s.visits if v.active}
        if s.dropped or not statuses:
            return "dropped"
        if s.finished and statuses == {"completed"}:
            return "completed"
        return "active" if statuses & ATTENDED_STATUSES else "planned"

    # -- follow-ups and measurements ---------------------------------------------------------

    def _follow_up(
        self,
        task: _Task,
        created: dt.datetime,
        *,
        done_at: dt.datetime | None = None,
        outcome: str = "",
        status: str = "",
    ) -> int:
        fid = self._id("follow_up")
        status = status or ("done" if done_at is not None else "open")
        if status == "open" and (task.deadline or task.due) < self.now - days_of(
            STALE_FOLLOW_UP_DAYS
        ):
            status, outcome = "cancelled", "Closed at discharge"
        if status == "open":
            self.counts["open_follow_up"] += 1
        self._add(
            "follow_up",
            {
                "id": fid,
                "patient_id": task.visit.patient.id,
                "appointment_id": task.visit.id,
                "kind": task.kind,
                "due_at": task.due,
                "deadline_at": task.deadline,
                "assignee_role": task.role,
                "assignee_id": task.assignee,
                "priority": task.priority,
                "status": status,
                "outcome": outcome,
                "snoozed_until": None,
                "completed_at": done_at if status == "done" else None,
                "completed_by_id": self._user(task.assignee, task.role)
                if status == "done"
                else None,
                "created_at": min(created, task.due),
            },
        )
        return fid

    def _day_hours(self, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
        intervals = self.plan.open_intervals(day)
        if intervals:
            return intervals[0].start, intervals[-1].end
        bounds = self.calendar.day_bounds(day)
        return bounds.start, bounds.end

    def _follow_ups(self, v: Visit, spec: SessionTypeSpec) -> None:
        """The session type's follow-up rules, as the clinic would have worked them off."""
        if v.series is not None and puts_at_risk(v.status, v.late_cancel, self.dropout):
            self._outreach_call(v)
        if v.code == INTAKE and v.status == "completed":
            self._measure(v, v.start + MINUTE * 15, self._user(v.slot.clinician, "prescriber"))
        staff = {self.layout.role.get(r): r for _, r in v.slot.assignment}
        for rule in spec.followups:
            task = _Task(
                v, rule.kind, rule.assignee_role, staff.get(rule.assignee_role), v.start, v.start
            )
            if rule.before_session:
                self._before_session(task)
            elif rule.owed_from_start and v.status in STARTED_STATUSES and v.status != "completed":
                # A session left in progress still owes its monitoring form (DOMAIN.md), as the
                # services open it at the start: open, the session not over (no random draw,
                # so the rest of the demo stays as it was).  The demo once skipped it.
                self._open_form(task, rule.calendar_days or 0)
            elif v.status != "completed":
                continue
            elif rule.business_days is not None:
                self._next_day_call(task, rule.business_days)
            elif rule.calendar_days is not None:
                self._form(task, rule.calendar_days)
            elif rule.min_days is not None or rule.max_days is not None:
                low = rule.min_days or 0
                self._after_days(task, low, rule.max_days or low)

    def _before_session(self, task: _Task) -> None:
        """A measure taken at check-in: done for sessions attended, open for today's."""
        v = task.visit
        taken = min(v.start - MINUTE * 5, self.now)
        if v.status in ATTENDED_STATUSES and (v is self.urgent or self.rng.random() > 0.04):
            self._follow_up(task, v.booked_at, done_at=taken, outcome="Collected at check-in")
            self._measure(v, taken, self._user(task.assignee, task.role))
        elif v.status in ATTENDED_STATUSES:
            self._follow_up(task, v.booked_at)  # missed: overdue (or closed, when long ago)
        elif v.status == "booked" and v.day >= self.today:
            self._follow_up(task, v.booked_at)  # owed since booking (services.followups)

    def _next_day_call(self, task: _Task, business_days: int) -> None:
        rng, v = self.rng, task.visit
        day = self.plan.next_open_day(v.day, business_days)
        task.due, task.deadline = self._day_hours(day)
        reached = task.due + MINUTE * rng.randrange(15, 240, 5)
        tried = task.due + MINUTE * rng.randrange(5, 60, 5)
        retry = rng.random() < 0.2
        unreached = 0 < (self.today - day).days <= 5 and rng.random() < 0.1
        if reached > self.now or unreached:
            called = tried <= self.now and (retry or unreached)
            if called:  # an unreached call is due again later (services.followups)
                hours = self.plan.settings.followups.retry_hours
                task.due = reattempt_at(self.calendar, tried, hours)
            fid = self._follow_up(task, v.end)
            if called:
                self._attempt(fid, tried, task, rng.choice(("no_answer", "voicemail")))
            return
        outcome = rng.choice(people.CALL_OUTCOMES)
        fid = self._follow_up(task, v.end, done_at=reached, outcome=outcome)
        if retry:
            self._attempt(fid, tried, task, "no_answer")
        self._attempt(fid, reached, task, "reached")

    def _outreach_call(self, v: Visit) -> None:
        """A missed series session's outreach call (scheduling/dropout.py): made, or answered
        by a make-up, when the miss is more than a day behind its deadline; still standing for
        the latest misses, which puts their series on the recall list's "At risk" tab."""
        if v.changed_at is None or v.changed_at > self.now or v.series is None:
            return
        missed_on = self.calendar.local_date(v.changed_at)
        last = self.plan.next_open_day(missed_on, self.dropout.outreach_business_days)
        deadline = max(self._day_hours(last)[1], v.changed_at)
        task = _Task(
            v, OUTREACH_CALL, self.dropout.outreach_role, None, v.changed_at, deadline, "high"
        )
        made_up = any(
            w.makeup and w.index == v.index and w.active for w in v.series.visits if w is not v
        )
        if made_up:
            self._follow_up(task, v.changed_at, status="cancelled", outcome=_MADE_UP)
        elif deadline > self.now - days_of(1):
            self._follow_up(task, v.changed_at)
        else:
            reached = v.changed_at + MINUTE * self.rng.randrange(60, 24 * 60, 5)
            fid = self._follow_up(task, v.changed_at, done_at=reached, outcome=_REACHED)
            self._attempt(fid, reached, task, "reached")

    def _attempt(self, follow_up: int, at: dt.datetime, task: _Task, result: str) -> None:
        self._add(
            "follow_up_attempt",
            {
                "id": self._id("follow_up_attempt"),
                "follow_up_id": follow_up,
                "at": at,
                "user_id": self._user(task.assignee, task.role),
                "result": result,
                "notes": "" if result == "reached" else "Left a message to call back",
            },
        )

    def _form(self, task: _Task, days: int) -> None:
        v = task.visit
        task.due = v.end
        task.deadline = self.calendar.day_bounds(v.day + days_of(days)).end
        done = v.end + MINUTE * self.rng.randrange(20, 3 * 24 * 60, 5)
        late = v.day >= self.today - days_of(14) and self.rng.random() < 0.08
        if done > self.now or late:
            self._follow_up(task, v.end)
        else:
            self._follow_up(task, v.end, done_at=done, outcome="Submitted to the REMS portal")

    def _open_form(self, task: _Task, days: int) -> None:
        """The form of a session still in progress: due from its planned end, by the end of
        ``days`` calendar days after its day, and open."""
        v = task.visit
        task.due = v.end
        task.deadline = self.calendar.day_bounds(v.day + days_of(days)).end
        self._follow_up(task, v.start)

    def _after_days(self, task: _Task, low: int, high: int) -> None:
        """A session that should follow within some days (integration after a KAP session)."""
        v = task.visit
        # Due from the first open day that many days on, at the latest by the end of the window
        # (services.followups' window).
        task.deadline = self.calendar.day_bounds(v.day + days_of(high)).end
        first = self._day_hours(self.plan.next_open_day(v.day + days_of(low - 1)))[0]
        task.due = min(first, task.deadline)
        follow = min(
            (
                w
                for w in v.patient.visits
                if w.code == task.kind and w.active and v.day < w.day <= v.day + days_of(high)
            ),
            key=lambda w: w.start,
            default=None,
        )
        if follow is not None and follow.status == "completed":
            self._follow_up(task, v.end, done_at=follow.end, outcome="Session held")
        else:
            self._follow_up(task, v.end)

    def _series_follow_up(self, s: SeriesPlan) -> None:
        """A completed series' own follow-up (a booster review after an IV induction)."""
        on_complete = self.plan.protocols[s.protocol].stages[-1].on_complete
        if on_complete is None or self._series_status(s) != "completed":
            return
        last = max((v for v in s.visits if v.active), key=lambda v: v.start)
        final = max(s.visits, key=lambda v: (v.index, v.start))
        if not last.id or final.status != "completed":  # last place missed: not over
            return
        p = s.patient
        prescriber = p.intake.slot.clinician if p.intake is not None else None
        first_day = self.plan.next_open_day(last.day + days_of(on_complete.min_days - 1))
        task = _Task(
            last,
            on_complete.followup,
            self.plan.settings.followups.series_review_role,
            prescriber,
            self._day_hours(first_day)[0],
            self.calendar.day_bounds(last.day + days_of(on_complete.max_days)).end,
        )
        seen = [
            v.end
            for v in p.visits
            if v.code in (REVIEW, IV) and v.day > last.day and v.status == "completed"
        ]
        if seen:
            self._follow_up(task, last.end, done_at=min(seen), outcome="Reviewed with the patient")
        else:
            self._follow_up(task, last.end)

    def _choose_urgent(self, visits: Sequence[Visit]) -> None:
        """The latest attended dosing session of today's caseload gets a PHQ-9 with a positive
        item 9 (thoughts of self-harm): an urgent review for the prescriber, still open."""
        candidates = [
            v
            for v in visits
            if v.status in ATTENDED_STATUSES
            and not v.patient.historical
            and any(r.before_session for r in self.plan.types[v.code].followups)
        ]
        self.urgent = max(candidates, key=lambda v: (v.start, v.id), default=None)

    def _measure(self, v: Visit, taken: dt.datetime, user: int) -> None:
        """A PHQ-9: the baseline at intake, then falling for responders, flat for the rest."""
        rng, p = self.rng, v.patient
        if v.code == INTAKE:
            score = p.baseline
        elif p.responder:
            settle = p.floor + (1 - p.floor) * math.exp(-v.dose_number / 4)
            score = round(p.baseline * settle) + rng.randint(-2, 2)
        else:
            score = p.baseline - v.dose_number // 4 + rng.randint(-2, 2)
        # Item 9 (thoughts of self-harm) stays 0 but for the few who need an urgent review.
        item9 = 1 if v is self.urgent or (v.code == INTAKE and rng.random() < 0.1) else 0
        score = min(24 + item9, max(10 * item9, score))
        items = [0] * 8 + [item9]
        rest = score - item9
        while rest > 0:
            i = rng.randrange(8)
            if items[i] < 3:
                items[i] += 1
                rest -= 1
        self._add(
            "measurement",
            {
                "id": self._id("measurement"),
                "patient_id": p.id,
                "appointment_id": v.id,
                "instrument": "phq9",
                "score": score,
                "items": items,
                "taken_at": taken,
                "entered_by_id": user,
            },
        )
        if item9:
            prescriber = v.slot.clinician if v.code == INTAKE else None
            due = taken + MINUTE * 5
            task = _Task(v, "urgent_review", "prescriber", prescriber, due, due + MINUTE * 120)
            task.priority = "urgent"
            if v is self.urgent:
                self._follow_up(task, taken)
            else:
                outcome = "C-SSRS: passive thoughts, no plan or intent; safety plan reviewed"
                self._follow_up(task, taken, done_at=v.end, outcome=outcome)
