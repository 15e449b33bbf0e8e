"""One soak workstation: a process with its own engine that makes random desk operations through
the services the window and the commands use, and logs each outcome.

Every operation ends in one JSON line in the worker's own append-only log, written with one
``os.write`` (so a SIGKILL never leaves half of a line that was written) and, for a success,
``fsync``'d before the next operation starts.  A success names what it wrote: appointment ids,
the appointment event it made (when the service says), times, rooms and statuses.  A refusal is
counted by kind; anything that is not a ServiceError is a raw error, logged with its traceback.

The operations are concentrated on a few days (a window of three open days that every worker
moves on at the same moments: see ``Worker.focus``), four rooms, four monitors, two nurses and
24 patients, so that the workers really fight over the same slots.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from ketadesk.config import Catalog
from ketadesk.scheduling.calendar import ClinicCalendar
from ketadesk.scheduling.model import PlannedSession, session_holds
from ketadesk.scheduling.statuses import ACTION_OF_STATUS
from ketadesk.services.booking import appointment_changes, booking, planning, series_moves
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.booking.plan_check import BookingConflict
from ketadesk.services.common.context import (
    Actor,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    ServiceError,
    utcnow,
)
from ketadesk.services.common.errors import ChangedElsewhere, DatabaseFailure, ServerUnavailable
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.database import Database, open_database
from ketadesk.store.models import Appointment
from tests.soak.clinic import SoakClinic

SESSION_TYPE = "iv_infusion"
PROTOCOL = "iv_induction"
SERIES_LENGTH = 6  # the protocol's six infusions ...
SERIES_GAP_DAYS = 2  # ... at least two days apart, as its target gap
FOCUS_DAYS = 3
FIRST_START, LAST_START = 8 * 60, 14 * 60  # minutes of the day a session may start
GRID = 15
REFOCUS_EVERY = 5  # operations between two looks at where the days in focus are
OFFERED = 3  # the openings the dialog shows first, one of which the desk takes
STATUS_ACTIONS = ("check_in", "start", "complete", "no_show")
CLINICAL_ACTIONS = frozenset({"start", "complete"})  # a nurse's; the desk may not

#: The statuses an operation is meant for; a target is one of them but for 1 time in 10.
SENSIBLE = 0.9
TARGET_STATUSES: dict[str, tuple[str, ...]] = {
    "move": ("booked", "checked_in"),
    "series_move": ("booked", "checked_in"),
    "cancel": ("booked", "checked_in"),
    "check_in": ("booked",),
    "start": ("booked", "checked_in"),
    "complete": ("checked_in", "in_progress"),
    "no_show": ("booked",),
    "undo": ("checked_in", "in_progress", "completed", "cancelled", "no_show"),
}

#: Operation -> weight in the random mix.
MIX: dict[str, int] = {
    "book": 24,
    "book_series": 6,
    "move": 16,
    "series_move": 5,
    "cancel": 12,
    "undo": 12,
    "check_in": 8,
    "start": 5,
    "complete": 5,
    "no_show": 5,
}


@dataclass(frozen=True)
class WorkerPlan:
    """What the driver tells a worker: where to log, when to stop, how many operations."""

    tag: str
    seed: str
    log_path: str
    stop_file: str
    deadline: float | None = None  # time.time() to stop at
    max_ops: int | None = None
    rotate_seconds: float = 120.0
    rotate_appointments: int = 30
    epoch: float = 0.0  # time.time() when the run began: the days in focus start tomorrow


def refusal_kind(err: ServiceError) -> str:
    """A refusal in words, sorted: conflict, changed elsewhere, rule, or the database's own."""
    text = str(err)
    if (
        isinstance(err, ChangedElsewhere)
        or "another workstation" in text
        or "changed since" in text
    ):
        return "changed_elsewhere"
    if isinstance(err, BookingConflict):
        return "conflict"
    if isinstance(err, ServerUnavailable | DatabaseFailure):
        return "database"
    if isinstance(err, PermissionDenied):
        return "permission"
    if isinstance(err, InvalidRequest | NotFound):
        return "rule"
    return "rule" if type(err).__name__ == "GateRefused" else "other"


class Worker:
    def __init__(self, clinic: SoakClinic, plan: WorkerPlan, db: Database) -> None:
        self.clinic = clinic
        self.plan = plan
        self.db = db
        self.rng = random.Random(plan.seed)
        with db.read() as session:
            self.catalog: Catalog = load_catalog(session)
        self.calendar = ClinicCalendar(self.catalog.settings)
        self.days = [dt.date.fromisoformat(d) for d in clinic.days]
        self.desk = Actor(*_actor(clinic, "desk"))
        self.nurse = Actor(*_actor(clinic, "nurse"))
        self.fd = os.open(plan.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self.seq = 0
        self._focus: list[dt.date] = []
        ops, weights = zip(*MIX.items(), strict=True)
        self.ops: tuple[str, ...] = ops
        self.weights: tuple[int, ...] = weights

    # -- the log ---------------------------------------------------------------------------------

    def log(self, line: dict[str, Any], *, sync: bool) -> None:
        data = (json.dumps(line, separators=(",", ":")) + "\n").encode()
        os.write(self.fd, data)
        if sync:
            os.fsync(self.fd)

    # -- choosing ---------------------------------------------------------------------------------

    def focus(self) -> list[dt.date]:
        """The few days every worker fights over now (the same for all of them): they move on
        by a day for every ``rotate_appointments`` appointments booked, so that days full of
        finished sessions are left behind, and every ``rotate_seconds`` (should nothing fit)."""
        if not self._focus:
            self.refocus()
        return self._focus

    def refocus(self) -> None:
        with self.db.read() as session:
            booked = session.scalar(select(func.max(Appointment.id))) or 0
        waited = int((time.time() - self.plan.epoch) // self.plan.rotate_seconds)
        at = booked // self.plan.rotate_appointments + waited
        start = at % (len(self.days) - FOCUS_DAYS - SERIES_LENGTH * 2)
        self._focus = self.days[start : start + FOCUS_DAYS]

    def slot(self, day: dt.date, minute: int | None = None) -> PlannedSession:
        if minute is None:
            minute = self.rng.randrange(FIRST_START, LAST_START + 1, GRID)
        spec = self.catalog.session_types[SESSION_TYPE]
        start = self.calendar.at_local(day, minute)
        assignment = {
            "room": self.rng.choice(self.clinic.rooms),
            "monitor": self.rng.choice(self.clinic.monitors),
            "nurse": self.rng.choice(self.clinic.nurses),
        }
        return PlannedSession(
            index=1,
            session_type=SESSION_TYPE,
            start=start,
            end=start + dt.timedelta(minutes=spec.total_minutes),
            holds=session_holds(spec, start, assignment),
        )

    def offered(self, day: dt.date) -> PlannedSession | None:
        """What the booking dialog would offer on ``day``: one of the first few openings the
        planner finds (``planning.search_openings``), so workstations race for the same ones."""
        answer = planning.search_openings(
            self.db,
            session_type=SESSION_TYPE,
            first=day,
            days=1,
            today=self.calendar.local_date(utcnow()),
            limit=OFFERED,
        )
        openings = answer.search.openings
        if not openings:
            return None
        spec = self.catalog.session_types[SESSION_TYPE]
        return self.rng.choice(openings[:OFFERED]).as_session(spec, 1)

    def place(self) -> PlannedSession | None:
        """A new place for a session: half the time an opening the planner offers, half the
        time a slot picked by hand (which may well be taken)."""
        day = self.rng.choice(self.focus())
        if self.rng.random() < 0.5:
            return self.offered(day)
        return self.slot(day)

    def target(self, op: str) -> tuple[int, int] | None:
        """An appointment on the days in focus (any worker's): (id, version).

        Mostly one the operation can act on (as a person at the desk would pick), sometimes
        any: the first from a random moment of the focus days on, through the start index.
        """
        days = self.focus()
        lo = self.calendar.day_bounds(days[0]).start
        hi = self.calendar.day_bounds(days[-1]).end
        at = lo + (hi - lo) * self.rng.random()
        wanted = [Appointment.starts_at < hi]
        if op == "series_move":
            wanted.append(Appointment.series_id.is_not(None))
        if self.rng.random() < SENSIBLE:
            wanted.append(Appointment.status.in_(TARGET_STATUSES[op]))
        with self.db.read() as session:
            found = None
            # The first from that moment on, or else (nothing after it) from the days' start.
            for since in (at, lo):
                found = session.execute(
                    select(Appointment.id, Appointment.version)
                    .where(Appointment.starts_at >= since, *wanted)
                    .order_by(Appointment.starts_at)
                    .limit(1)
                ).first()
                if found is not None:
                    break
        return None if found is None else (int(found[0]), int(found[1]))

    # -- the operations: each returns what it wrote (for the log) or raises --------------------

    def op_book(self) -> dict[str, Any] | None:
        planned = self.place()
        if planned is None:
            return None
        patient = self.rng.choice(self.clinic.patients)
        result = booking.book(
            self.db, self.desk, BookingRequest(patient_id=patient, sessions=(planned,))
        )
        return {"appts": [_booked(result.appointment_ids[0], planned)]}

    def op_book_series(self) -> dict[str, Any]:
        """A series: half the time as the booking dialog plans it (``planning.propose_series``,
        the planner over the database's free slots), half the time laid out by hand."""
        if self.rng.random() < 0.5:
            return self.book_proposed_series()
        return self.book_series_by_hand()

    def book_proposed_series(self) -> dict[str, Any]:
        n = self.rng.randrange(len(self.clinic.patients))
        minute = self.rng.randrange(FIRST_START, LAST_START + 1, GRID)
        first = self.focus()[0]
        proposal = planning.propose_series(
            self.db,
            chart=self.clinic.charts[n],
            protocol=PROTOCOL,
            start=first,
            wishes=planning.PlanWishes(time=dt.time(minute // 60, minute % 60)),
            today=self.calendar.local_date(utcnow()),
        )
        return self.book_series(proposal.patient_id, proposal.sessions)

    def book_series_by_hand(self) -> dict[str, Any]:
        """Six infusions two or three days apart on open days (Mon, Wed, Fri where the calendar
        allows), at one time, in one room, from the first day in focus."""
        first = self.focus()[0]
        minute = self.rng.randrange(FIRST_START, LAST_START + 1, GRID)
        template = self.slot(first, minute)
        spec = self.catalog.session_types[SESSION_TYPE]
        assignment = {h.need: h.resource_id for h in template.holds}
        sessions = []
        day = first
        for n in range(1, SERIES_LENGTH + 1):
            start = self.calendar.at_local(day, minute)
            sessions.append(
                PlannedSession(
                    index=n,
                    session_type=SESSION_TYPE,
                    start=start,
                    end=start + dt.timedelta(minutes=spec.total_minutes),
                    holds=session_holds(spec, start, assignment),
                )
            )
            day = next(d for d in self.days if d >= day + dt.timedelta(days=SERIES_GAP_DAYS))
        return self.book_series(self.rng.choice(self.clinic.patients), sessions)

    def book_series(self, patient: int, sessions: Sequence[PlannedSession]) -> dict[str, Any]:
        result = booking.book(
            self.db,
            self.desk,
            BookingRequest(patient_id=patient, sessions=tuple(sessions), protocol=PROTOCOL),
        )
        return {
            "series": {
                "id": result.series_id,
                "count": len(sessions),
                "appts": list(result.appointment_ids),
            },
            "appts": [_booked(a, s) for a, s in zip(result.appointment_ids, sessions, strict=True)],
        }

    def op_move(self) -> dict[str, Any] | None:
        found = self.target("move")
        if found is None:
            return None
        appointment_id, version = found
        planned = self.place()
        if planned is None:
            return None
        change = appointment_changes.move(
            self.db,
            self.desk,
            appointment_id,
            planned,
            expected_version=version if self.rng.random() < 0.5 else None,
            reason="soak",
        )
        return {
            "appts": [
                {**_placed(appointment_id, planned), "action": "move", "event": change.event_id}
            ]
        }

    def op_series_move(self) -> dict[str, Any] | None:
        found = self.target("series_move")
        if found is None:
            return None
        appointment_id, _ = found
        with self.db.read() as session:
            starts_at = session.scalar(
                select(Appointment.starts_at).where(Appointment.id == appointment_id)
            )
        assert starts_at is not None
        shift = self.rng.choice((-60, -30, 30, 60, 24 * 60, 2 * 24 * 60))
        proposal = series_moves.propose_series_move(
            self.db, appointment_id, starts_at + dt.timedelta(minutes=shift)
        )
        if not proposal.moves:
            raise InvalidRequest("the series move changes nothing")  # the dialog offers none
        series_moves.move_series(self.db, self.desk, proposal, reason="soak")
        return {
            "appts": [
                {**_placed(a, planned), "action": "move", "event": None, "reflow": True}
                for a, planned in proposal.moves
            ]
        }

    def op_status(self, action: str) -> dict[str, Any] | None:
        found = self.target(action)
        if found is None:
            return None
        appointment_id, version = found
        actor = self.nurse if action in CLINICAL_ACTIONS else self.desk
        change = appointment_changes.change_status(
            self.db,
            actor,
            appointment_id,
            action,
            reason="soak" if action == "cancel" else "",
            expected_version=version if self.rng.random() < 0.5 else None,
        )
        return {
            "appts": [
                {
                    "id": appointment_id,
                    "action": action,
                    "event": change.event_id,
                    "status": change.to_status,
                }
            ]
        }

    def op_undo(self) -> dict[str, Any] | None:
        found = self.target("undo")
        if found is None:
            return None
        appointment_id, _ = found
        change = appointment_changes.undo_status(self.db, self.nurse, appointment_id)
        undone = ACTION_OF_STATUS.get(change.from_status, change.from_status)
        return {
            "appts": [
                {
                    "id": appointment_id,
                    "action": f"undo_{undone}",
                    "event": change.event_id,
                    "status": change.to_status,
                }
            ]
        }

    # -- the loop -----------------------------------------------------------------------------

    def run(self) -> int:
        calls: dict[str, Callable[[], dict[str, Any] | None]] = {
            "book": self.op_book,
            "book_series": self.op_book_series,
            "move": self.op_move,
            "series_move": self.op_series_move,
            "undo": self.op_undo,
        }
        for action in (*STATUS_ACTIONS, "cancel"):
            calls[action] = lambda a=action: self.op_status(a)  # type: ignore[misc]
        plan = self.plan
        while True:
            if plan.max_ops is not None and self.seq >= plan.max_ops:
                break
            if plan.deadline is not None and time.time() >= plan.deadline:
                break
            if os.path.exists(plan.stop_file):
                break
            op = self.rng.choices(self.ops, self.weights)[0]
            refocus = self.seq % REFOCUS_EVERY == 0
            self.seq += 1
            line: dict[str, Any] = {"w": plan.tag, "n": self.seq, "op": op}
            began = time.perf_counter()
            try:
                if refocus:
                    self.refocus()
                wrote = calls[op]()
            except ServiceError as err:
                line.update(r="refused", kind=refusal_kind(err), msg=str(err)[:200])
                sync = False
            except Exception as err:  # a raw error: the very thing the soak looks for
                line.update(r="raw", kind=type(err).__name__, tb=traceback.format_exc())
                sync = True
            else:
                if wrote is None:
                    line.update(r="refused", kind="nothing_to_do")
                    sync = False
                else:
                    line.update(r="ok", **wrote)
                    sync = True
            line["ms"] = round((time.perf_counter() - began) * 1000, 1)
            self.log(line, sync=sync)
        os.close(self.fd)
        return self.seq


def _actor(clinic: SoakClinic, username: str) -> tuple[int, str, str]:
    user_id, role = clinic.users[username]
    return user_id, username, role


def _room(planned: PlannedSession) -> int | None:
    return next((h.resource_id for h in planned.holds if h.need == "room"), None)


def _placed(appointment_id: int, planned: PlannedSession) -> dict[str, Any]:
    return {
        "id": appointment_id,
        "start": planned.start.isoformat(),
        "end": planned.end.isoformat(),
        "room": _room(planned),
    }


def _booked(appointment_id: int, planned: PlannedSession) -> dict[str, Any]:
    return {**_placed(appointment_id, planned), "action": "book", "status": "booked"}


def run_worker(clinic_file: str, plan: WorkerPlan, ready: Any = None) -> None:
    """A worker process's whole life: its own engine, the loop, and an exit."""
    clinic = SoakClinic.load(Path(clinic_file))
    db = open_database(clinic.url)
    try:
        worker = Worker(clinic, plan, db)
        if ready is not None:
            ready.send(plan.tag)
            ready.close()
        worker.run()
    finally:
        db.dispose()
