"""Timed sedation (MOAA/S) and dissociation (CADSS) readings for the demo clinic's sessions.

Every completed or in-progress session whose type times scales (the shipped IV infusion and
Spravato) gets its readings where the rules lay them from the recorded dose start
(``scale_rules.scale_slots``), each taken a few minutes after it fell due and recorded by the
nurse who monitored the session.  The scores follow what the record says: no sedation keeps
MOAA/S at 5, mild or moderate sedation lowers it around the peak; dissociation sets the CADSS
at +40 min.  A completed session's last readings say both effects resolved, as the
discharge rule asks.  A few timed readings were missed (never the last of a completed
session: the discharge would have refused it), the earliest-dosed session still in the chairs
has missed one that the board shows in red, and the latest completed IV infusion had a low
MOAA/S (2 at +15 min) that resolved by the discharge.

Plain Core inserts in the demo's writing transaction, with a random sequence of their own so
that the rest of the demo stays as it was.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session

from ketadesk.scheduling.catalog import SessionTypeSpec
from ketadesk.scheduling.chair_rules import earliest_discharge
from ketadesk.scheduling.scale_rules import CADSS, MOAAS, ScaleSettings, ScaleSlot, scale_slots
from ketadesk.services.monitoring.scale_readings import scale_settings
from ketadesk.store.clinic_config import load_config
from ketadesk.store.models import Appointment, ScaleReading, SessionRecord, User

_TABLE = cast(Table, ScaleReading.__table__)
_MINUTE = dt.timedelta(minutes=1)
_CHUNK = 5_000
#: A timed reading (not one at discharge) of a completed session missed one time in this many.
_MISSED_ONE_IN = 20
#: The low MOAA/S that resolved: the scores of its timed readings, the one at the dose first.
_LOW_MOAAS = (5, 2, 3, 4)


def write_scale_readings(session: Session, *, seed: int, now: dt.datetime) -> int:
    """Write the scale readings of every dosed session up to ``now``; how many were written."""
    config = load_config(session)
    catalog = config.catalog
    scaled = {
        type_id: catalog.session_types[code]
        for code, type_id in config.session_type_ids.items()
        if catalog.session_types[code].scales
    }
    if not scaled:
        return 0
    sessions = session.execute(
        select(
            SessionRecord.appointment_id,
            SessionRecord.dose_started_at,
            SessionRecord.discharged_at,
            SessionRecord.monitored_by_id,
            SessionRecord.sedation,
            SessionRecord.dissociation,
            Appointment.session_type_id,
            Appointment.status,
        )
        .join(Appointment, Appointment.id == SessionRecord.appointment_id)
        .where(
            Appointment.session_type_id.in_(scaled),
            Appointment.status.in_(("completed", "in_progress")),
            SessionRecord.dose_started_at.is_not(None),
            SessionRecord.dose_started_at <= now,
        )
        .order_by(SessionRecord.dose_started_at, SessionRecord.appointment_id)
    ).all()
    users = dict(
        session.execute(select(User.staff_id, User.id).where(User.staff_id.is_not(None))).all()
    )
    settings = scale_settings(catalog)
    late = dt.timedelta(minutes=catalog.settings.monitoring.get("reading_late_minutes", 0))
    low = _low_moaas_choice(session, sessions, scaled)
    missed_now = _missed_in_chair(sessions, scaled, now, late)
    rng = random.Random(seed * 7919 + 23)
    rows: list[dict[str, Any]] = []
    for aid, dosed, discharged, monitor, sedation, dissociation, type_id, status in sessions:
        if dosed is None:
            continue  # (the query asks for a dose start)
        spec = scaled[type_id]
        dose_at = _aware(dosed)
        finished = status == "completed"
        slots = scale_slots(
            spec.scales, dose_at, earliest_discharge(dose_at, spec.observation_minutes)
        )
        # A completed session's last reading of each scale let the patient go: taken, resolved.
        final = {slot.scale: slot for slot in slots} if finished else {}
        moaas_timed = 0
        for slot in slots:
            last = final.get(slot.scale) == slot
            taken = slot.due_at + _MINUTE * rng.randint(0, 3)
            if finished and discharged is not None and slot.at_discharge:
                taken = min(taken, _aware(discharged) - _MINUTE)
            if taken > now:
                continue
            if slot.scale == MOAAS and not slot.at_discharge:
                moaas_timed += 1
            missed = finished and not last and aid != low and rng.randrange(_MISSED_ONE_IN) == 0
            if missed or (aid, slot) == missed_now:
                continue
            if aid == low and slot.scale == MOAAS and not last:
                score = _LOW_MOAAS[min(moaas_timed, len(_LOW_MOAAS)) - 1]
            else:
                score = _score(rng, slot, sedation, dissociation, last, settings)
            rows.append(
                {
                    "appointment_id": aid,
                    "scale": slot.scale,
                    "taken_at": taken,
                    "score": score,
                    "recorded_by_id": users.get(monitor),
                    "recorded_at": min(now, taken + _MINUTE * rng.randint(0, 2)),
                }
            )
    for start in range(0, len(rows), _CHUNK):
        session.execute(insert(_TABLE), rows[start : start + _CHUNK])
    return len(rows)


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _score(
    rng: random.Random,
    slot: ScaleSlot,
    sedation: str,
    dissociation: str,
    resolved: bool,
    settings: ScaleSettings,
) -> int:
    """A plausible score for ``slot``: the record's sedation and dissociation words at the
    peak; ``resolved``: the last reading of a completed session, which let the patient go."""
    peak = slot.after_dose is not None and 0 < slot.after_dose <= 45
    if slot.scale == CADSS:
        if resolved:
            return settings.cadss_resolved_max
        low, high = {
            "none": (0, 2),
            "mild": (4, 14),
            "moderate": (15, 30),
            "severe": (31, 45),
        }.get(dissociation, (2, 18))
        if not peak:
            low, high = 0, max(low // 2, 2)
        return min(rng.randint(low, high), settings.cadss_max)
    if resolved or not peak:
        return 5
    choices = {
        "none": (5,),
        "mild": (4, 5, 5),
        "moderate": (3, 4),
        "severe": (2, 3),
    }.get(sedation, (4, 5, 5, 5))
    return rng.choice(choices)


def _low_moaas_choice(
    session: Session, sessions: Sequence[Any], scaled: dict[int, SessionTypeSpec]
) -> int | None:
    """The latest completed session that times MOAA/S at least three times after the dose (the
    IV infusion): its MOAA/S fell to 2 and came back.  Its record says the sedation was
    moderate (set so when it said less)."""
    chosen = next(
        (
            row
            for row in reversed(sessions)
            if row[7] == "completed"
            and any(
                p.scale == MOAAS and len([m for m in p.at_minutes if m > 0]) >= 3
                for p in scaled[row[6]].scales
            )
        ),
        None,
    )
    if chosen is None:
        return None
    if chosen[4] not in ("moderate", "severe"):
        session.execute(
            update(SessionRecord)
            .where(SessionRecord.appointment_id == chosen[0])
            .values(sedation="moderate")
        )
    aid: int = chosen[0]
    return aid


def _missed_in_chair(
    sessions: Sequence[Any],
    scaled: dict[int, SessionTypeSpec],
    now: dt.datetime,
    late: dt.timedelta,
) -> tuple[int, ScaleSlot] | None:
    """The earliest-dosed session in progress with a timed reading past its grace at ``now``:
    its latest such reading was missed (the chair board says so in red)."""
    for row in sessions:
        if row[7] != "in_progress":
            continue
        spec = scaled[row[6]]
        dose_at = _aware(row[1])
        overdue = [
            slot
            for slot in scale_slots(
                spec.scales, dose_at, earliest_discharge(dose_at, spec.observation_minutes)
            )
            if not slot.at_discharge and slot.due_at + late < now
        ]
        if overdue:
            return row[0], overdue[-1]
    return None
