"""``ketadesk resource out-of-service``, ``ketadesk staff time-off`` and ``ketadesk closure add``:
what a closure breaks and where those sessions would go; nothing changes without ``--apply``."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import TYPE_CHECKING, Any

from ketadesk.cli import add_db_argument
from ketadesk.commands._planning_args import clock_time, iso_date, local_datetime
from ketadesk.scheduling.words import counted

if TYPE_CHECKING:
    from ketadesk.scheduling.closure_repeats import Repeat


def local_minute(text: str) -> tuple[dt.date, dt.time]:
    """'YYYY-MM-DD HH:MM' or 'YYYY-MM-DD 2:30pm', the clinic's wall-clock time (made an instant
    once the clinic is open and its time zone known)."""
    moment = local_datetime(text)
    return moment.date(), moment.time()


def _common(parser: argparse.ArgumentParser) -> None:
    add_db_argument(parser)
    parser.add_argument("--reason", required=True, metavar="TEXT", help="why (shown to callers)")
    parser.add_argument(
        "--apply", action="store_true", help="save it and move the sessions (default: only show)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON")


def _span(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--name", required=True, metavar="NAME", help="as in Settings, e.g. 'Monitor 3'"
    )
    parser.add_argument(
        "--from", dest="first", required=True, type=local_minute, metavar="'YYYY-MM-DD HH:MM'"
    )
    parser.add_argument(
        "--to", dest="last", required=True, type=local_minute, metavar="'YYYY-MM-DD HH:MM'"
    )


def register(sub: Any) -> None:
    text = "rooms and equipment: take one out of service for a while"
    resource = sub.add_parser("resource", help=text, description=text)
    resource_sub = resource.add_subparsers(dest="action", metavar="ACTION", required=True)
    text = "a room or equipment out of service: the sessions it breaks and their new places"
    oos = resource_sub.add_parser("out-of-service", help=text, description=text)
    _span(oos)
    _common(oos)
    oos.set_defaults(handler=_run, kind="maintenance")

    text = "staff: time off"
    staff = sub.add_parser("staff", help=text, description=text)
    staff_sub = staff.add_subparsers(dest="action", metavar="ACTION", required=True)
    text = "a staff member's time off: the sessions it breaks and their new places"
    off = staff_sub.add_parser("time-off", help=text, description=text)
    _span(off)
    _common(off)
    off.set_defaults(handler=_run, kind="time_off")

    text = "close the clinic for a day or part of one, or the same hours on many days"
    closure = sub.add_parser("closure", help=text, description=text)
    closure_sub = closure.add_subparsers(dest="action", metavar="ACTION", required=True)
    text = "close the clinic: the sessions it breaks and their new places"
    add = closure_sub.add_parser("add", help=text, description=text)
    add.add_argument("--date", required=True, type=iso_date, metavar="YYYY-MM-DD")
    add.add_argument("--from", dest="first", type=clock_time, metavar="HH:MM")
    add.add_argument("--to", dest="last", type=clock_time, metavar="HH:MM")
    add.add_argument(
        "--repeat",
        choices=("daily", "weekly"),
        help="the same hours every day (or every week on --on) from --date to --until",
    )
    add.add_argument("--until", type=iso_date, metavar="YYYY-MM-DD", help="a repeat's last day")
    add.add_argument("--on", metavar="DAYS", help="a weekly repeat's weekdays, e.g. mon,fri")
    _common(add)
    add.set_defaults(handler=_run, kind="closure", name=None)


def _run(args: argparse.Namespace) -> int:
    from ketadesk.cli import CommandError, command_line_actor
    from ketadesk.services.clinic.clinic_setup import open_clinic
    from ketadesk.services.common.context import InvalidFields
    from ketadesk.services.settings import consequences
    from ketadesk.services.settings.availability import Unavailability, resource_by_name
    from ketadesk.store.clinic_config import load_catalog
    from ketadesk.store.snapshot import calendar_of

    if args.kind == "closure" and (args.first is None) != (args.last is None):
        raise CommandError("give both --from and --to for part of a day, or neither")
    repeat = _repeat(args)
    opened = open_clinic(args.db)
    db = opened.db
    try:
        with db.read() as session:
            calendar = calendar_of(load_catalog(session).settings)
            resource_id = None
            if args.name is not None:
                found = resource_by_name(session, args.name)
                if found is None:
                    raise CommandError(f"--name: no room, equipment or staff named {args.name!r}")
                resource_id = found.id

        def at(value: tuple[dt.date, dt.time]) -> dt.datetime:
            day, time = value
            return calendar.at_local(day, time.hour * 60 + time.minute)

        if args.kind == "closure":
            last = args.until if repeat.repeats else args.date
            if args.first is None:
                start = calendar.at_local(args.date, 0)
                end = calendar.at_local(last + dt.timedelta(days=1), 0)
            else:
                start, end = at((args.date, args.first)), at((last, args.last))
        else:
            start, end = at(args.first), at(args.last)
        proposed = Unavailability(
            args.kind, start, end, args.reason, resource_id=resource_id, repeat=repeat
        )
        try:
            preview = consequences.preview(db, proposed)
        except InvalidFields as err:
            flags = {
                "ends_at": "--to",
                "starts_at": "--from",
                "resource": "--name",
                "weekdays": "--on",
            }
            raise CommandError(
                "; ".join(f"{flags.get(k, '--' + k)}: {v}" for k, v in err.errors.items())
            ) from None
        applied = consequences.apply(db, command_line_actor(), preview) if args.apply else None
    finally:
        db.dispose()
    _print(args, preview, applied)
    return 0


def _repeat(args: argparse.Namespace) -> Repeat:
    """``closure add``'s ``--repeat``, ``--until`` and ``--on`` as a repeat, or a refusal
    naming the option."""
    from ketadesk.cli import CommandError
    from ketadesk.scheduling.catalog import WEEKDAYS
    from ketadesk.scheduling.closure_repeats import NO_REPEAT, Repeat

    every = getattr(args, "repeat", None)
    if every is None:
        if getattr(args, "until", None) is not None or getattr(args, "on", None):
            raise CommandError("--until and --on go with --repeat")
        return NO_REPEAT
    if args.until is None:
        raise CommandError("--repeat needs --until, its last day")
    if every == "daily":
        if args.on:
            raise CommandError("--on is for --repeat weekly")
        return Repeat("daily")
    words = [w.strip() for w in (args.on or "").split(",") if w.strip()]
    unknown = [w for w in words if w.lower()[:3] not in WEEKDAYS]  # "fri", "Friday"
    if not words or unknown:
        raise CommandError(
            "--on: the weekdays of a weekly repeat, e.g. mon,fri"
            + (f" (not a weekday: {', '.join(unknown)})" if unknown else "")
        )
    return Repeat("weekly", tuple(sorted({WEEKDAYS.index(w.lower()[:3]) for w in words})))


def _print(args: argparse.Namespace, preview: Any, applied: Any) -> None:
    cal = preview.calendar

    def when(t: dt.datetime) -> str:
        local = cal.local(t)
        return f"{local:%a} {local.month}/{local.day} {cal.clock(t)}"

    if args.json:
        out = {
            "what": preview.what,
            "reason": preview.unavailability.reason,
            "from": cal.local(preview.unavailability.starts_at).isoformat(),
            "to": cal.local(preview.unavailability.ends_at).isoformat(),
            "applied": applied is not None,
            "closure_id": applied.closure_id if applied else None,
            "broken": [
                {
                    "appointment_id": b.appointment_id,
                    "patient": b.patient_name,
                    "session_type": b.session_type,
                    "start": cal.local(b.starts_at).isoformat(),
                    "why": b.why,
                }
                for b in preview.broken
            ],
            "moves": [
                {
                    "appointment_id": m.appointment_id,
                    "patient": m.patient_name,
                    "session_type": m.session_type,
                    "from": cal.local(m.old.start).isoformat(),
                    "to": cal.local(m.new.start).isoformat(),
                    "instead": m.instead,
                    "broken": m.broken,
                }
                for m in preview.moves
            ],
            "unplaced": [
                {"appointment_id": u.session.appointment_id, "problem": u.problem}
                for u in preview.unplaced
            ],
        }
        print(json.dumps(out, indent=2))
        return
    span = f"{when(preview.unavailability.starts_at)} to {when(preview.unavailability.ends_at)}"
    print(f"{preview.what}, {span}: {preview.unavailability.reason}")
    if not preview.broken:
        print("No booked session is affected.")
    for b in preview.broken:
        move = preview.move_of(b.appointment_id)
        if move is None:
            where = "-> no new place"
        elif move.same_time:
            where = f"-> {move.change_text()}"
        else:
            where = f"-> {when(move.new.start)}"
            if move.change_text():
                where += f" ({move.change_text()})"
        kind = f"{b.session_type} (pencilled in)" if b.tentative else b.session_type
        print(f"  {b.patient_name}: {kind}, {when(b.starts_at)} {where}")
    shifted = [m for m in preview.moves if not m.broken]
    if shifted:
        print("To keep the series' spacing, also:")
        for m in shifted:
            print(
                f"  {m.patient_name}: {m.session_type}, {when(m.old.start)} -> {when(m.new.start)}"
            )
    for u in preview.unplaced:
        print(f"  No new place for appointment #{u.session.appointment_id}: {u.problem}")
    for b in preview.in_use:
        print(f"  {b.patient_name}: {b.session_type}, {when(b.starts_at)} {b.why}: not re-planned")
    if applied is None:
        print("Nothing was changed (add --apply to save it and move these sessions).")
    else:
        moved = counted(len(applied.moves), "session")
        calls = counted(len(applied.follow_up_ids), "patient")
        print(f"Saved; {moved} moved, {calls} to call on the call list.")
