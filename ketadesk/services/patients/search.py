"""Finding a patient as a user types.

``search_patients`` works on a folded index of every patient's names, chart number, phone
digits and date of birth, kept per database and rebuilt only when the patients changed (their
number, highest id or latest audited edit moved), so each keystroke costs a single-row read and
a few bisections, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
import threading
import unicodedata
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from ketadesk.services.common.context import NotFound
from ketadesk.services.common.phones import NANP_DIGITS
from ketadesk.services.patients.patient_fields import parse_date
from ketadesk.store.database import Database
from ketadesk.store.models import AuditEvent, Patient

if TYPE_CHECKING:
    from sqlalchemy import Engine


@dataclass(frozen=True, slots=True)
class PatientMatch:
    id: int
    chart_number: str
    display_name: str  # "Last, First"
    date_of_birth: dt.date | None
    phone: str
    active: bool


# Letters NFKD does not take apart, so "Søren" is found by "soren".
_LETTERS = str.maketrans({"ø": "o", "ł": "l", "đ": "d", "æ": "ae", "œ": "oe", "þ": "th", "ı": "i"})
_WORD_BREAK = re.compile(r"[\W_]+")
_NON_DIGIT = re.compile(r"\D")
_NON_ALNUM = re.compile(r"[\W_]+")
_DIGITS_QUERY = re.compile(r"[0-9 +().\-]*[0-9][0-9 +().\-]*")


def _fold(text: str) -> str:
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).translate(_LETTERS)


def _name_keys(folded: Iterable[str]) -> set[str]:
    """The words of folded names (and each name run together, for "O'Brien" typed "obrien")."""
    keys: set[str] = set()
    for text in folded:
        if text.isalnum():
            keys.add(text)
            continue
        words = [w for w in _WORD_BREAK.split(text) if w]
        keys.update(words)
        if len(words) > 1:
            keys.add("".join(words))
    return keys


@dataclass(frozen=True, slots=True)
class _SearchIndex:
    version: tuple[int, int, int]
    matches: Sequence[PatientMatch]  # in display order: active first, then by name
    keys: Sequence[str]  # sorted name and chart keys
    owners: Sequence[int]  # the position in ``matches`` each key belongs to
    phone_digits: Sequence[str]
    chart_digits: Sequence[str]
    by_birth: Mapping[dt.date, Sequence[int]]


_INDEX_COLUMNS = (
    Patient.id,
    Patient.chart_number,
    Patient.first_name,
    Patient.last_name,
    Patient.preferred_name,
    Patient.date_of_birth,
    Patient.phone,
    Patient.active,
)


def _build_index(rows: Iterable[Any], version: tuple[int, int, int]) -> _SearchIndex:
    entries = []
    for pid, chart, first, last, preferred, born, phone, active in rows:
        folded = (_fold(last), _fold(first), _fold(preferred), _NON_ALNUM.sub("", chart.lower()))
        sort_key = (not active, folded[0], folded[1], pid)
        entries.append((sort_key, folded, pid, chart, first, last, born, phone, bool(active)))
    entries.sort(key=lambda e: e[0])
    matches: list[PatientMatch] = []
    pairs: list[tuple[str, int]] = []
    phones: list[str] = []
    charts: list[str] = []
    by_birth: dict[dt.date, list[int]] = {}
    for pos, (_, folded, pid, chart, first, last, born, phone, active) in enumerate(entries):
        matches.append(PatientMatch(pid, chart, f"{last}, {first}", born, phone, active))
        pairs.extend((key, pos) for key in _name_keys(folded))
        phones.append(_NON_DIGIT.sub("", phone or ""))
        charts.append(_NON_DIGIT.sub("", chart))
        if born is not None:
            by_birth.setdefault(born, []).append(pos)
    pairs.sort()
    return _SearchIndex(
        version=version,
        matches=matches,
        keys=[k for k, _ in pairs],
        owners=[p for _, p in pairs],
        phone_digits=phones,
        chart_digits=charts,
        by_birth=by_birth,
    )


_INDEXES: weakref.WeakKeyDictionary[Engine, _SearchIndex] = weakref.WeakKeyDictionary()
_INDEX_LOCK = threading.Lock()


# What tells that the patients changed: their number and highest id (a new patient, however it
# was written) and the latest audit event about a patient (every edit through the services).
# Not the change counter: every booking moves it, and a booking changes no patient.
_PATIENTS_VERSION = select(func.count(), func.max(Patient.id)).select_from(Patient)
_LAST_PATIENT_EDIT = select(func.max(AuditEvent.id)).where(AuditEvent.entity == "patient")


def _index(db: Database) -> _SearchIndex:
    with db.read() as session:
        count, highest = session.execute(_PATIENTS_VERSION).one()
        edited = session.scalar(_LAST_PATIENT_EDIT)
        version = (count or 0, highest or 0, edited or 0)
        with _INDEX_LOCK:
            cached = _INDEXES.get(db.engine)
        if cached is not None and cached.version == version:
            return cached
        index = _build_index(session.execute(select(*_INDEX_COLUMNS)), version)
    with _INDEX_LOCK:
        _INDEXES[db.engine] = index
    return index


def patient_match(db: Database, patient_id: int) -> PatientMatch:
    """One patient as a search shows them (one row read); NotFound if there is none."""
    with db.read() as session:
        row = session.execute(select(*_INDEX_COLUMNS).where(Patient.id == patient_id)).one_or_none()
    if row is None:
        raise NotFound(f"no patient with id {patient_id}")
    pid, chart, first, last, _preferred, born, phone, active = row
    return PatientMatch(pid, chart, f"{last}, {first}", born, phone, bool(active))


def prepare_search(db: Database) -> None:
    """Build the search index now (a window calls it off the GUI thread when it opens, so the
    first keystroke does not pay for it)."""
    _index(db)


def _prefixed(index: _SearchIndex, key: str) -> set[int]:
    found: set[int] = set()
    at = bisect.bisect_left(index.keys, key)
    keys = index.keys
    while at < len(keys) and keys[at].startswith(key):
        found.add(index.owners[at])
        at += 1
    return found


def _digit_matches(index: _SearchIndex, digits: str) -> set[int]:
    """Patients whose phone holds these digits, or whose chart number's digits start so."""
    wanted = [digits]
    if len(digits) == NANP_DIGITS + 1 and digits.startswith("1"):
        wanted.append(digits[1:])
    found = {pos for pos, phone in enumerate(index.phone_digits) if any(w in phone for w in wanted)}
    found.update(pos for pos, chart in enumerate(index.chart_digits) if chart.startswith(digits))
    return found


def _try_date(text: str) -> dt.date | None:
    try:
        return parse_date(text)
    except ValueError:
        return None


def search_patients(db: Database, text: str, *, limit: int = 50) -> list[PatientMatch]:
    """Patients matching what was typed, best first (at most ``limit``).

    Every word must match: the start of a first, last or preferred name (any order, case and
    accents ignored), a chart number (or its start), phone digits (any formatting), or a date
    of birth (YYYY-MM-DD or MM/DD/YYYY).  Active patients come before inactive ones, then by
    name; an exact chart number comes first of all.
    """
    query = text.strip()
    if not query:
        return []
    index = _index(db)
    born = _try_date(query)
    if born is not None:
        found = set(index.by_birth.get(born, ()))
    elif _DIGITS_QUERY.fullmatch(query):
        found = _digit_matches(index, _NON_DIGIT.sub("", query))
    else:
        found_words: set[int] | None = None
        for word in query.replace(",", " ").split():
            day = _try_date(word)
            if day is not None:
                hits = set(index.by_birth.get(day, ()))
            else:
                key = "".join(_WORD_BREAK.split(_fold(word)))
                if not key:
                    continue
                hits = _prefixed(index, key)
                if key.isdigit():
                    hits |= _digit_matches(index, key)
            found_words = hits if found_words is None else found_words & hits
            if not found_words:
                return []
        found = found_words or set()
    folded = _fold(query)
    ordered = sorted(found, key=lambda pos: (_fold(index.matches[pos].chart_number) != folded, pos))
    return [index.matches[pos] for pos in ordered[:limit]]
