"""Whether a clinic is set up enough to book: what the set-up assistant sums up at its end,
what Settings ▸ Rooms and equipment shows under its table, and what decides whether the
assistant is offered at all (a clinic with no rooms and no staff).

Readiness is judged per session type, from what each type ``needs`` (session_types.toml:
kind and subkind; an ``optional`` need, e.g. an office for a telehealth review, is not
required): a type is ready when, for each required need, the clinic has an active room or piece
of equipment of that subkind that serves the type, or a staff member of that role with weekly
shifts.  A clinic with three rooms and three monitors but no pulse oximeter can book IV
infusions, not Spravato.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select

from ketadesk.config import Catalog
from ketadesk.scheduling.availability import subkind_label
from ketadesk.scheduling.catalog import ResourceKind
from ketadesk.services.common.context import Database
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.models import Resource, StaffShift, User


def _article(words: str) -> str:
    return f"{'an' if words[:1] in 'aeiou' else 'a'} {words}"


@dataclass(frozen=True, slots=True)
class Lack:
    """One required resource a session type has none of: its subkind, and whether staff of
    that role exist but have no weekly shifts."""

    kind: str
    subkind: str
    without_shifts: bool = False

    @property
    def label(self) -> str:
        return subkind_label(self.subkind)

    def needs_text(self) -> str:
        """``needs a pulse oximeter (none yet)``."""
        state = "none with weekly shifts" if self.without_shifts else "none yet"
        return f"needs {_article(self.label)} ({state})"

    def short_text(self) -> str:
        """``no pulse oximeter``."""
        if self.without_shifts:
            return f"no {self.label} with weekly shifts"
        return f"no {self.label}"


@dataclass(frozen=True, slots=True)
class TypeReadiness:
    """Whether one session type can be booked, and what it lacks."""

    code: str
    name: str
    lacks: tuple[Lack, ...]

    @property
    def ready(self) -> bool:
        return not self.lacks

    def text(self) -> str:
        """``Spravato (esketamine): needs a pulse oximeter (none yet)`` or ``…: ready``."""
        if self.ready:
            return f"{self.name}: ready"
        return f"{self.name}: " + "; ".join(lack.needs_text() for lack in self.lacks)


@dataclass(frozen=True, slots=True)
class ClinicReadiness:
    """Counts of what the clinic has (active only), and which session types it can book."""

    rooms: int
    equipment: int
    staff: int
    staff_with_shifts: int
    users: int
    session_types: tuple[TypeReadiness, ...] = ()

    @property
    def is_empty(self) -> bool:
        """No rooms and no staff: a clinic just created, which the assistant is offered for."""
        return self.rooms == 0 and self.staff == 0

    @property
    def ready_types(self) -> tuple[TypeReadiness, ...]:
        return tuple(t for t in self.session_types if t.ready)

    @property
    def unready_types(self) -> tuple[TypeReadiness, ...]:
        return tuple(t for t in self.session_types if not t.ready)

    @property
    def can_book(self) -> bool:
        """At least one session type can be booked."""
        return bool(self.ready_types)

    @property
    def can_book_all(self) -> bool:
        return self.can_book and not self.unready_types

    def missing(self) -> tuple[str, ...]:
        """What must still be added before any session can be booked, in words."""
        lacks = []
        if self.rooms == 0:
            lacks.append("at least one room")
        if self.staff == 0:
            lacks.append("at least one staff member")
        elif self.staff_with_shifts == 0:
            lacks.append("weekly shifts for a staff member")
        if not lacks and not self.can_book:
            seen: list[str] = []
            for kind in self.unready_types:
                for lack in kind.lacks:
                    words = _article(lack.label)
                    if words not in seen:
                        seen.append(words)
            lacks.extend(seen)
        return tuple(lacks)

    def verdict(self) -> str:
        """``The clinic can book: IV infusion, Intake…; not yet: Spravato (no pulse oximeter).``
        or ``The clinic cannot book yet: add …``."""
        if not self.can_book:
            return "The clinic cannot book yet: add " + " and ".join(self.missing()) + "."
        ready = ", ".join(t.name for t in self.ready_types)
        text = f"The clinic can book: {ready}"
        if self.unready_types:
            later = ", ".join(
                f"{t.name} ({', '.join(lack.short_text() for lack in t.lacks)})"
                for t in self.unready_types
            )
            text += f"; not yet: {later}"
        return text + "."


@dataclass(frozen=True, slots=True)
class _Held:
    kind: str
    subkind: str
    serves: tuple[str, ...]
    has_shifts: bool

    def serves_type(self, code: str) -> bool:
        return not self.serves or code in self.serves


def judge_types(catalog: Catalog, held: Iterable[_Held]) -> tuple[TypeReadiness, ...]:
    """Each session type of the catalog, in its order, with what it lacks."""
    have = tuple(held)
    out = []
    for code, spec in catalog.session_types.items():
        lacks = []
        for need in spec.needs:
            if need.optional:
                continue
            kind = need.kind.value
            fits = [
                h
                for h in have
                if h.kind == kind and h.subkind == need.subkind and h.serves_type(code)
            ]
            if need.kind is ResourceKind.STAFF:
                if not any(h.has_shifts for h in fits):
                    lacks.append(Lack(kind, need.subkind, without_shifts=bool(fits)))
            elif not fits:
                lacks.append(Lack(kind, need.subkind))
        out.append(TypeReadiness(code, spec.name, tuple(lacks)))
    return tuple(out)


def clinic_readiness(db: Database) -> ClinicReadiness:
    """What the clinic has now, and which session types it can book."""
    with db.read() as session:
        catalog = load_catalog(session)
        counts = dict(
            session.execute(
                select(Resource.kind, func.count())
                .where(Resource.active.is_(True))
                .group_by(Resource.kind)
            ).all()
        )
        shifted = set(session.scalars(select(func.distinct(StaffShift.resource_id))))
        held = [
            _Held(r.kind, r.subkind, tuple(r.serves or ()), r.id in shifted)
            for r in session.scalars(select(Resource).where(Resource.active.is_(True)))
        ]
        users = session.scalar(select(func.count()).select_from(User).where(User.active.is_(True)))
    return ClinicReadiness(
        rooms=int(counts.get("room", 0)),
        equipment=int(counts.get("equipment", 0)),
        staff=int(counts.get("staff", 0)),
        staff_with_shifts=sum(1 for h in held if h.kind == "staff" and h.has_shifts),
        users=int(users or 0),
        session_types=judge_types(catalog, held),
    )
