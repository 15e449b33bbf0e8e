"""The rows the integrity check reads (appointments and holds), and the problems it finds in them,
gathered so that one appointment's holds make one line, and worded by what they are about."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from ketadesk.scheduling.calendar import Interval
from ketadesk.scheduling.model import ResourceInfo
from ketadesk.services.clinic.integrity_calendar import ClinicDays
from ketadesk.services.clinic.integrity_report import Problem, ProblemCode, problem_order


class Appt(NamedTuple):
    id: int
    patient_id: int
    series_id: int | None
    series_index: int | None
    room_id: int | None
    starts_at: dt.datetime
    ends_at: dt.datetime
    status: str

    @property
    def span(self) -> Interval:
        return Interval(self.starts_at, self.ends_at)


class Hold(NamedTuple):
    id: int
    appointment_id: int
    resource_id: int
    mode: str
    exclusive: bool
    units: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    active: bool


@dataclass
class _Finding:
    """A problem still being gathered: holds of one kind merge into one line."""

    code: ProblemCode
    resource_id: int | None
    appointment_ids: tuple[int, ...]
    start: dt.datetime
    end: dt.datetime
    detail: str = ""


class Findings:
    """The problems of one run, and the names of what they are about.

    ``appointments`` and ``held`` are the check's own mappings, still filling while the holds
    are read: an appointment is named by what it holds only once the holds are in.
    """

    def __init__(
        self,
        days: ClinicDays,
        resources: dict[int, ResourceInfo],
        appointments: dict[int, Appt],
        held: dict[int, list[int]],
    ) -> None:
        self.days = days
        self.resources = resources
        self.appointments = appointments
        self.held = held
        self._problems: list[Problem] = []
        self._gathered: dict[tuple[Any, ...], _Finding] = {}

    def add(
        self,
        code: ProblemCode,
        message: str,
        *,
        appointment_ids: tuple[int, ...] = (),
        resource_id: int | None = None,
        at: dt.datetime | None = None,
    ) -> None:
        self._problems.append(
            Problem(
                code=str(code),
                message=message,
                appointment_ids=appointment_ids,
                resource_id=resource_id,
                at=at.astimezone(dt.UTC) if at is not None else None,
            )
        )

    def gather(
        self,
        code: ProblemCode,
        appointment_ids: tuple[int, ...],
        resource_id: int | None,
        span: Interval,
        detail: str = "",
    ) -> None:
        """Merge hold-level findings, so one appointment's holds on a resource make one line."""
        key = (code, appointment_ids, resource_id, detail)
        found = self._gathered.get(key)
        if found is None:
            self._gathered[key] = _Finding(
                code, resource_id, appointment_ids, span.start, span.end, detail
            )
        else:
            found.start = min(found.start, span.start)
            found.end = max(found.end, span.end)

    def problems(self) -> tuple[Problem, ...]:
        """Everything found, the gathered findings worded, in the order the report shows."""
        problems = self._problems + [self._finding_problem(f) for f in self._gathered.values()]
        problems.sort(key=problem_order)
        return tuple(problems)

    def _finding_problem(self, f: _Finding) -> Problem:
        span = Interval(f.start, f.end)
        when = self.days.when(span)
        ids = _ids(f.appointment_ids)
        res = self.resource_name(f.resource_id) if f.resource_id is not None else ""
        if f.code is ProblemCode.OVERLAP:
            if len(f.appointment_ids) == 1:
                message = f"overlap: {res} held twice by appointment {ids} on {when}"
            else:
                message = f"overlap: {res} held by appointments {ids} on {when}"
        elif f.code is ProblemCode.CAPACITY:
            message = f"capacity: {res} {f.detail} by appointments {ids} on {when}"
        elif f.code is ProblemCode.STATUS:
            appt = self.appointments[f.appointment_ids[0]]
            span = appt.span
            message = (
                f"status: appointment #{appt.id} on {self.days.when(span)} is "
                f"{appt.status.replace('_', ' ')} but still holds {self._held_names(appt.id)}"
            )
        else:
            message = f"{f.code}: {res} held by appointment {ids} on {when}: {f.detail}"
        return Problem(
            code=str(f.code),
            message=message,
            appointment_ids=f.appointment_ids,
            resource_id=f.resource_id,
            at=span.start.astimezone(dt.UTC),
        )

    # -- names ----------------------------------------------------------------------------------

    def appointment_label(self, appt: Appt) -> str:
        if appt.room_id is not None:
            return f"appointment #{appt.id} in {self.resource_name(appt.room_id)}"
        held = self.held.get(appt.id)
        if held:
            return f"appointment #{appt.id} with {self.resource_name(held[0])}"
        return f"appointment #{appt.id}"

    def _held_names(self, appointment_id: int) -> str:
        ids = dict.fromkeys(self.held.get(appointment_id, ()))
        return ", ".join(self.resource_name(r) for r in ids)

    def resource_name(self, resource_id: int | None) -> str:
        resource = self.resources.get(resource_id) if resource_id is not None else None
        return resource.name if resource is not None else f"resource #{resource_id}"

    def on(self, appt: Appt | None) -> str:
        return f" on {self.days.when(appt.span)}" if appt is not None else ""


def _ids(ids: Iterable[int]) -> str:
    labels = [f"#{i}" for i in ids]
    if len(labels) <= 1:
        return "".join(labels)
    return ", ".join(labels[:-1]) + " and " + labels[-1]
