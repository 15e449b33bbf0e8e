"""The late entries of one session's record, read from the database: each vital-signs reading
and timed scale reading entered more than ``[chair] late_entry_minutes`` after it was taken,
with who entered it, for the monitoring record, the session's page and the printed session
record alike (the rule: ``scheduling/late_entries.py``).

A vital-signs reading keeps when it was entered and by whom (``vital_reading.recorded_at``,
``recorded_by_id``, migration 0025; none for a reading saved before then: no mark); a scale
reading always has (``scale_reading.recorded_at``).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketadesk.config import Catalog
from ketadesk.scheduling.chair_rules import parse_chair_settings
from ketadesk.scheduling.dates import clock
from ketadesk.scheduling.late_entries import LateEntry, late_entry
from ketadesk.scheduling.scale_rules import parse_scale_settings
from ketadesk.services.monitoring.record_forms import bp_check_words
from ketadesk.store.models import ScaleReading, SessionRecord, User, VitalReading


def late_after_minutes(catalog: Catalog) -> int:
    """The clinic's ``[chair] late_entry_minutes``."""
    return parse_chair_settings(catalog.settings.extra.get("chair")).late_entry_minutes


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def vital_entries(session: Session, catalog: Catalog, appointment_id: int) -> dict[str, LateEntry]:
    """The session's vital-signs readings entered late, by their label (unique in a record)."""
    rows = session.execute(
        select(
            VitalReading.label,
            VitalReading.taken_at,
            VitalReading.recorded_at,
            User.display_name,
            User.username,
        )
        .join(SessionRecord, SessionRecord.id == VitalReading.record_id)
        .outerjoin(User, User.id == VitalReading.recorded_by_id)
        .where(SessionRecord.appointment_id == appointment_id)
    ).all()
    limit = late_after_minutes(catalog)
    out: dict[str, LateEntry] = {}
    for label, taken, entered, display, username in rows:
        found = late_entry(
            _aware(taken),
            _aware(entered) if entered is not None else None,
            display or username or "",
            late_after_minutes=limit,
        )
        if found is not None:
            out[label] = found
    return out


#: A scale reading as the sheet lists it: its scale's code, when taken (UTC) and its score.
ScaleKey = tuple[str, dt.datetime, int]


def scale_entries(
    session: Session, catalog: Catalog, appointment_id: int
) -> dict[ScaleKey, LateEntry]:
    """The session's timed scale readings entered late, by (scale, taken at, score): each as
    it now stands (a reading a correction replaced is not listed; the correction, which keeps
    the reading's entry, is)."""
    rows = session.execute(
        select(
            ScaleReading.id,
            ScaleReading.corrects_id,
            ScaleReading.scale,
            ScaleReading.taken_at,
            ScaleReading.score,
            ScaleReading.recorded_at,
            User.display_name,
            User.username,
        )
        .outerjoin(User, User.id == ScaleReading.recorded_by_id)
        .where(ScaleReading.appointment_id == appointment_id)
    ).all()
    limit = late_after_minutes(catalog)
    replaced = {corrects for _id, corrects, *_rest in rows if corrects is not None}
    out: dict[ScaleKey, LateEntry] = {}
    for reading_id, _corrects, scale, taken, score, entered, display, username in rows:
        if reading_id in replaced:
            continue
        taken = _aware(taken).astimezone(dt.UTC)
        found = late_entry(
            taken, _aware(entered), display or username or "", late_after_minutes=limit
        )
        if found is not None:
            out[(scale, taken, score)] = found
    return out


def scale_key(scale: str, taken_at: dt.datetime, score: int) -> ScaleKey:
    """A reading's key in ``scale_entries``."""
    return (scale, taken_at.astimezone(dt.UTC), score)


def entry_lines(session: Session, catalog: Catalog, appointment_id: int) -> tuple[str, ...]:
    """Each late entry of the session in a line, in the order taken, for the session's page:
    "BP pre-dose taken 10:00 AM: entered 11:02 AM, 62 min later, by Kim Nguyen"."""
    settings = catalog.settings
    zone, fmt = ZoneInfo(settings.timezone), settings.time_format
    scales = parse_scale_settings(settings.extra.get("scales"), "database")
    lines: list[tuple[dt.datetime, str]] = []
    for label, entry in vital_entries(session, catalog, appointment_id).items():
        what = bp_check_words(label)
        lines.append((entry.taken_at, f"{what} {_taken_words(entry, zone, fmt)}"))
    for (scale, _taken, score), entry in scale_entries(session, catalog, appointment_id).items():
        what = f"{scales.name(scale)} {score}"
        lines.append((entry.taken_at, f"{what} {_taken_words(entry, zone, fmt)}"))
    lines.sort(key=lambda line: line[0])
    return tuple(text for _at, text in lines)


def _taken_words(entry: LateEntry, zone: ZoneInfo, fmt: str) -> str:
    return f"taken {clock(entry.taken_at.astimezone(zone), fmt)}: {entry.words(zone, fmt)}"
