"""The soak's independent checker: plain SQL through ``sqlite3`` or ``psycopg`` (none of the
application's code), read against the workers' logs.

    python -m tests.soak.checker --db URL --logs DIR [--killed]

It looks for:

- ``integrity``: on SQLite, anything ``PRAGMA integrity_check`` reports;
- ``overlap``: two active exclusive holds on one resource (room, monitor, staff) that overlap;
- ``capacity``: more units of active holds on a resource at one moment than its capacity;
- ``patient_overlap``: a patient in two overlapping sessions that are not cancelled or missed;
- ``lost_success``: a logged success that is not in the database (the appointment, or the event
  its change wrote), or an appointment whose state differs from the last logged change to it
  (replayed in the order of the database's own event ids, so an unlogged later change, made by
  a worker killed before it could log, is taken into account);
- ``unlogged_change``: (without ``--killed``) an appointment event that no log reports;
- ``partial_series``: a series with another number of appointments than it was booked with, or
  other appointments than the log says;
- ``appointment_without_holds``, ``hold_without_appointment``, ``hold_state``: holds that do not
  match their appointment (active holds on a cancelled or missed one, or the reverse);
- ``audit_missing``: a logged success, or an appointment event, without its audit event;
- ``raw_error``: an operation that ended in an exception that was not a refusal in words.

It prints each kind with its count, and exits 1 when any is non-zero.
"""

from __future__ import annotations

import argparse
import datetime as dt
import heapq
import json
import sqlite3
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

KINDS = (
    "integrity",
    "overlap",
    "capacity",
    "patient_overlap",
    "lost_success",
    "unlogged_change",
    "partial_series",
    "appointment_without_holds",
    "hold_without_appointment",
    "hold_state",
    "audit_missing",
    "raw_error",
)
RELEASED = ("cancelled", "no_show")
EXAMPLES = 5


@dataclass
class Findings:
    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    raw_kinds: Counter[str] = field(default_factory=Counter)
    torn_lines: int = 0
    logged_successes: int = 0
    unlogged_after_kills: int = 0  # committed by a worker killed before it could log them

    def add(self, kind: str, example: str, count: int = 1) -> None:
        self.counts[kind] += count
        if len(self.examples[kind]) < EXAMPLES:
            self.examples[kind].append(example)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "violations": {k: self.counts.get(k, 0) for k in KINDS},
            "examples": {k: v for k, v in self.examples.items() if v},
            "raw_errors_by_exception": dict(self.raw_kinds),
            "torn_log_lines": self.torn_lines,
            "logged_successes": self.logged_successes,
            "unlogged_after_kills": self.unlogged_after_kills,
        }


# -- the database, plainly ----------------------------------------------------------------------


class Reader:
    """A plain DB-API connection to the clinic, SQLite or PostgreSQL, read only."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        scheme = parts.scheme.split("+")[0]
        self.sqlite = scheme == "sqlite"
        if self.sqlite:
            path = url.split(":///", 1)[1] if ":///" in url else url
            self.conn: Any = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        elif scheme in ("postgresql", "postgres"):
            import psycopg

            self.conn = psycopg.connect(
                host=parts.hostname,
                port=parts.port,
                user=unquote(parts.username or ""),
                password=unquote(parts.password or ""),
                dbname=parts.path.lstrip("/"),
            )
        else:
            raise SystemExit(f"unsupported database URL {url!r}")

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
        if not self.sqlite:
            sql = sql.replace("?", "%s")
            cur = self.conn.cursor(name=f"c{id(sql)}")  # server-side: millions of rows stream
            cur.itersize = 5000
        else:
            cur = self.conn.cursor()
        cur.execute(sql, params)
        yield from cur
        cur.close()

    def one(self, sql: str) -> Any:
        cur = self.conn.cursor()
        cur.execute(sql)
        value = cur.fetchone()[0]
        cur.close()
        return value

    def close(self) -> None:
        self.conn.close()


def instant(value: Any) -> float:
    """Seconds since the epoch of a stored instant (naive UTC text on SQLite, aware on PG)."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return float(value.timestamp())


def as_json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def truth(value: Any) -> bool:
    return bool(value)


# -- the logs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Logged:
    """One logged change to one appointment."""

    op: str  # the worker's operation (book, move, series_move, cancel, ...)
    action: str  # the audit action it should have written
    event: int | None
    status: str | None
    start: float | None
    end: float | None
    room: int | None
    where: str


def read_logs(log_dir: Path, findings: Findings) -> tuple[dict[int, list[Logged]], list[Any]]:
    """Logged changes by appointment, and the logged series; raw errors counted on the way."""
    by_appointment: dict[int, list[Logged]] = defaultdict(list)
    series = []
    for path in sorted(log_dir.glob("*.jsonl")):
        with path.open("rb") as f:
            for number, raw in enumerate(f, start=1):
                try:
                    line = json.loads(raw)
                except ValueError:
                    findings.torn_lines += 1  # the last line of a killed worker, at most
                    continue
                where = f"{path.name}:{number}"
                if line.get("r") == "raw":
                    findings.raw_kinds[line.get("kind", "?")] += 1
                    findings.add("raw_error", f"{where} {line.get('op')}: {line.get('kind')}")
                    continue
                if line.get("r") != "ok":
                    continue
                findings.logged_successes += 1
                if "series" in line:
                    series.append((line["series"], where))
                for a in line.get("appts", ()):
                    by_appointment[int(a["id"])].append(
                        Logged(
                            op=line["op"],
                            action=a["action"],
                            event=a.get("event"),
                            status=a.get("status"),
                            start=instant(a["start"]) if "start" in a else None,
                            end=instant(a["end"]) if "end" in a else None,
                            room=a.get("room"),
                            where=where,
                        )
                    )
    return by_appointment, series


# -- the checks ---------------------------------------------------------------------------------


def check_holds(db: Reader, findings: Findings) -> None:
    capacity = dict(db.rows("SELECT id, capacity FROM resource"))
    # Exclusive holds: sorted by resource and start, each must begin after the latest end so far.
    last: tuple[int, float, int] | None = None  # resource, latest end, hold id
    for hold_id, rid, starts, ends in db.rows(
        "SELECT id, resource_id, starts_at, ends_at FROM resource_hold "
        "WHERE exclusive AND active ORDER BY resource_id, starts_at, id"
    ):
        s, e = instant(starts), instant(ends)
        if last is not None and last[0] == rid and s < last[1]:
            findings.add("overlap", f"resource {rid}: holds {last[2]} and {hold_id} overlap")
        if last is None or last[0] != rid or e > last[1]:
            last = (rid, e, hold_id)
    # Capacity: every active hold that uses units, swept per resource.
    current: int | None = None
    ending: list[tuple[float, int]] = []
    load = 0
    for hold_id, rid, starts, ends, units in db.rows(
        "SELECT id, resource_id, starts_at, ends_at, units FROM resource_hold "
        "WHERE active AND units > 0 ORDER BY resource_id, starts_at, id"
    ):
        if rid != current:
            current, ending, load = rid, [], 0
        s = instant(starts)
        while ending and ending[0][0] <= s:
            load -= heapq.heappop(ending)[1]
        load += units
        heapq.heappush(ending, (instant(ends), units))
        if load > capacity.get(rid, 1):
            findings.add(
                "capacity", f"resource {rid}: {load} units > {capacity.get(rid)} at hold {hold_id}"
            )
    for (count,) in db.rows(
        "SELECT count(*) FROM appointment a WHERE NOT EXISTS "
        "(SELECT 1 FROM resource_hold h WHERE h.appointment_id = a.id)"
    ):
        if count:
            findings.add("appointment_without_holds", f"{count} appointments", count)
    for (count,) in db.rows(
        "SELECT count(*) FROM resource_hold h LEFT JOIN appointment a "
        "ON a.id = h.appointment_id WHERE a.id IS NULL"
    ):
        if count:
            findings.add("hold_without_appointment", f"{count} holds", count)
    released = ", ".join(f"'{s}'" for s in RELEASED)
    for hold_id, appointment_id, status, active in db.rows(
        "SELECT h.id, a.id, a.status, h.active FROM resource_hold h "
        "JOIN appointment a ON a.id = h.appointment_id "
        f"WHERE (h.active AND a.status IN ({released})) "
        f"OR (NOT h.active AND a.status NOT IN ({released}))"
    ):
        findings.add(
            "hold_state", f"hold {hold_id} active={truth(active)} on {status} #{appointment_id}"
        )


def check_file(db: Reader, findings: Findings) -> None:
    """SQLite's own check of the file (after kills above all): anything but "ok" is a finding."""
    if db.sqlite:
        for (line,) in db.rows("PRAGMA integrity_check"):
            if line != "ok":
                findings.add("integrity", str(line))


def check_patients(db: Reader, findings: Findings) -> None:
    released = ", ".join(f"'{s}'" for s in RELEASED)
    last: tuple[int, float, int] | None = None
    for appointment_id, patient_id, starts, ends in db.rows(
        "SELECT id, patient_id, starts_at, ends_at FROM appointment "
        f"WHERE status NOT IN ({released}) ORDER BY patient_id, starts_at, id"
    ):
        s, e = instant(starts), instant(ends)
        if last is not None and last[0] == patient_id and s < last[1]:
            findings.add(
                "patient_overlap",
                f"patient {patient_id}: #{last[2]} and #{appointment_id} overlap",
            )
        if last is None or last[0] != patient_id or e > last[1]:
            last = (patient_id, e, appointment_id)


def check_series(db: Reader, logged_series: Iterable[Any], findings: Findings) -> None:
    members: dict[int, set[int]] = defaultdict(set)
    for appointment_id, series_id in db.rows(
        "SELECT id, series_id FROM appointment WHERE series_id IS NOT NULL"
    ):
        members[series_id].add(appointment_id)
    planned = dict(db.rows("SELECT id, planned_count FROM series"))
    for series_id, count in planned.items():
        if len(members.get(series_id, ())) != count:
            findings.add(
                "partial_series",
                f"series {series_id}: {len(members.get(series_id, ()))} of {count} appointments",
            )
    for series, where in logged_series:
        series_id = series["id"]
        if planned.get(series_id) != series["count"] or members.get(series_id) != set(
            series["appts"]
        ):
            findings.add("partial_series", f"{where}: logged series {series_id} differs")


_UNDO = "undo"


def check_history(
    db: Reader, logged: dict[int, list[Logged]], findings: Findings, *, killed: bool
) -> None:
    """Lost successes, unlogged changes and missing audit events, appointment by appointment."""
    rows = {
        row[0]: row
        for row in db.rows("SELECT id, status, starts_at, ends_at, room_id FROM appointment")
    }
    events: dict[int, list[tuple[int, str, str | None, Any]]] = defaultdict(list)
    for event_id, appointment_id, action, to_status, detail in db.rows(
        "SELECT id, appointment_id, action, to_status, detail FROM appointment_event "
        "ORDER BY appointment_id, id"
    ):
        events[appointment_id].append((event_id, action, to_status, detail))
    audits: Counter[tuple[int, str]] = Counter()
    for entity_id, action, count in db.rows(
        "SELECT entity_id, action, count(*) FROM audit_event WHERE entity = 'appointment' "
        "GROUP BY entity_id, action"
    ):
        audits[(entity_id, action)] = count

    for appointment_id in sorted(set(rows) | set(logged)):
        mine = logged.get(appointment_id, [])
        row = rows.get(appointment_id)
        if row is None:
            for entry in mine:
                findings.add("lost_success", f"{entry.where}: #{appointment_id} is not there")
            continue
        history = events.get(appointment_id, [])
        by_id = {e[0]: e for e in history}
        matched: dict[int, Logged] = {}
        # Changes that name their event first, then those matched by what they wrote.
        for entry in sorted(mine, key=lambda e: e.event is None):
            found = _match(entry, history, by_id, matched)
            if found is None:
                findings.add(
                    "lost_success",
                    f"{entry.where}: {entry.action} of #{appointment_id} has no event",
                )
            else:
                matched[found] = entry
        # Replay in the database's order, the log's word wherever it has one.
        state: dict[str, Any] = {"status": None, "start": None, "end": None, "room": None}
        expected_audits: Counter[str] = Counter()
        for event_id, action, to_status, detail in history:
            said = matched.get(event_id)
            detail = as_json(detail) or {}
            audit_action = action
            if action == _UNDO:
                undone = by_id.get(int(detail.get("undoes") or 0))
                audit_action = f"undo_{undone[1]}" if undone else "undo_?"
            expected_audits[audit_action] += 1
            if said is None:
                if killed:
                    findings.unlogged_after_kills += 1
                else:
                    findings.add("unlogged_change", f"#{appointment_id}: event {event_id} {action}")
                state["status"] = to_status
                if action == "book":
                    state.update(start=None, end=None, room=None)
                elif action == "move" and "after" in detail:
                    after = detail["after"]
                    state.update(
                        start=instant(after["starts_at"]),
                        end=instant(after["ends_at"]),
                        room=after.get("room_id"),
                    )
                continue
            if said.status is not None:
                state["status"] = said.status
            if said.start is not None:
                state.update(start=said.start, end=said.end, room=said.room)
        now = {
            "status": row[1],
            "start": instant(row[2]),
            "end": instant(row[3]),
            "room": row[4],
        }
        wrong = [k for k, v in state.items() if v is not None and v != now[k]]
        if wrong:
            findings.add(
                "lost_success",
                f"#{appointment_id}: {', '.join(wrong)} differ from the last logged change "
                f"(logged {[state[k] for k in wrong]}, stored {[now[k] for k in wrong]})",
            )
        logged_audits = Counter(e.action for e in mine)
        for action in set(expected_audits) | set(logged_audits):
            need = max(expected_audits[action], logged_audits[action])
            have = audits.get((appointment_id, action), 0)
            if have < need:
                findings.add(
                    "audit_missing",
                    f"#{appointment_id}: {need} {action} but {have} audit events",
                    need - have,
                )


def _match(
    entry: Logged,
    history: list[tuple[int, str, str | None, Any]],
    by_id: dict[int, tuple[int, str, str | None, Any]],
    taken: dict[int, Logged],
) -> int | None:
    """The database event a logged change wrote, if it is there (and says the same)."""
    if entry.event is not None:
        found = by_id.get(entry.event)
        if found is None or found[0] in taken:
            return None
        if entry.status is not None and found[2] != entry.status:
            return None
        return found[0]
    for event_id, action, _to_status, detail in history:
        if event_id in taken:
            continue
        if entry.action == "book" and action == "book":
            return event_id
        if entry.action == "move" and action == "move":
            detail = as_json(detail) or {}
            after = detail.get("after") or {}
            if (
                detail.get("series_reflow")
                and after
                and instant(after["starts_at"]) == entry.start
                and instant(after["ends_at"]) == entry.end
            ):
                return event_id
    return None


def check(url: str, log_dir: Path, *, killed: bool = False) -> Findings:
    """Every check, against the database at ``url`` and the logs in ``log_dir``."""
    findings = Findings()
    logged, logged_series = read_logs(log_dir, findings)
    db = Reader(url)
    try:
        check_file(db, findings)
        check_holds(db, findings)
        check_patients(db, findings)
        check_series(db, logged_series, findings)
        check_history(db, logged, findings, killed=killed)
    finally:
        db.close()
    return findings


def report(findings: Findings) -> str:
    lines = ["violations:"]
    for kind in KINDS:
        lines.append(f"  {kind:28s} {findings.counts.get(kind, 0)}")
        for example in findings.examples.get(kind, ()):
            lines.append(f"      e.g. {example}")
    if findings.raw_kinds:
        lines.append(
            "raw errors by exception: "
            + ", ".join(f"{k} {v}" for k, v in findings.raw_kinds.most_common())
        )
    lines.append(f"logged successes checked: {findings.logged_successes}")
    if findings.unlogged_after_kills:
        lines.append(
            f"changes committed by killed workers before they logged them: "
            f"{findings.unlogged_after_kills} (replayed from the database's own events)"
        )
    if findings.torn_lines:
        lines.append(f"torn log lines (killed mid-write): {findings.torn_lines}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.soak.checker", description=__doc__)
    parser.add_argument("--db", required=True, help="sqlite:///file or postgresql://...")
    parser.add_argument("--logs", required=True, type=Path, help="the workers' log folder")
    parser.add_argument(
        "--killed", action="store_true", help="workers were killed: unlogged changes are allowed"
    )
    args = parser.parse_args(argv)
    findings = check(args.db, args.logs, killed=args.killed)
    print(report(findings))
    return 1 if findings.total else 0


if __name__ == "__main__":
    sys.exit(main())
