"""``ketadesk plan`` (a dry run) and ``ketadesk book`` (commit): a whole series for a patient."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ketadesk.cli import add_db_argument
from ketadesk.commands._planning_args import add_wishes, iso_date


def register(sub: Any) -> None:
    for name, handler, text in (
        ("plan", _plan, "propose a whole series for a patient (writes nothing)"),
        ("book", _book, "plan a whole series and book it, all or nothing"),
    ):
        parser = sub.add_parser(name, help=text, description=text)
        add_db_argument(parser)
        parser.add_argument("--patient", required=True, metavar="CHART", help="chart number")
        parser.add_argument("--protocol", required=True, metavar="NAME", help="e.g. iv_induction")
        parser.add_argument("--start", required=True, type=iso_date, metavar="YYYY-MM-DD")
        add_wishes(parser)
        parser.add_argument(
            "--other-days",
            action="store_true",
            help="with --weekdays: let the plan use other weekdays where the ones asked for "
            "cannot be used (without it, a weekday the clinic never opens is refused)",
        )
        parser.set_defaults(handler=handler)


def _propose(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    from ketadesk.commands._planning_args import clinic_now, wishes_from
    from ketadesk.services.booking.planning import propose_series
    from ketadesk.services.clinic.clinic_setup import open_clinic

    opened = open_clinic(args.db)
    try:
        if args.weekdays and not args.other_days:
            _refuse_closed_weekdays(opened.db, args.weekdays, args.command)
        today, now = clinic_now(opened.db, args.today)
    except BaseException:
        opened.db.dispose()
        raise
    proposal = propose_series(
        opened.db,
        chart=args.patient,
        protocol=args.protocol,
        start=args.start,
        wishes=wishes_from(args),
        today=today,
    )
    return opened.db, proposal, now


def _refuse_closed_weekdays(db: Any, weekdays: tuple[str, ...], command: str) -> None:
    """A weekday the clinic never opens is a wish no plan can meet: said on the command line,
    before anything is planned, rather than a series on other days with only a note."""
    import calendar

    from ketadesk.cli import CommandError
    from ketadesk.scheduling.catalog import WEEKDAYS
    from ketadesk.store.clinic_config import load_catalog

    with db.read() as session:
        hours = load_catalog(session).settings.hours
    closed = [d for d in weekdays if hours.get(d) is None]
    if not closed:
        return
    names = [calendar.day_name[WEEKDAYS.index(d)] for d in closed]
    days = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    open_days = ",".join(d for d in WEEKDAYS if hours.get(d) is not None)
    done = "booked" if command == "book" else "planned"
    raise CommandError(
        f"the clinic is closed on {days}; nothing was {done}. Choose days it opens "
        f"(--weekdays from {open_days}), or add --other-days to let the plan use other days"
    )


def _print(proposal: Any, args: argparse.Namespace, booked: Any = None) -> None:
    from ketadesk.services.booking.planning import session_json

    cal, names = proposal.calendar, proposal.resource_names
    sessions = [session_json(s, cal, names) for s in proposal.sessions]
    if args.json:
        out: dict[str, Any] = {
            "patient": args.patient,
            "protocol": proposal.protocol,
            "sessions": sessions,
            "problems": list(proposal.plan.problems),
            "notes": list(proposal.plan.notes),
            "gates": [
                {"rule": g.rule, "severity": g.severity.value, "message": g.message}
                for g in proposal.gates
            ],
        }
        if booked is not None:
            out["series_id"] = booked.series_id
            out["appointment_ids"] = list(booked.appointment_ids)
        print(json.dumps(out, indent=2))
        return
    print(f"{proposal.patient_name}: {proposal.protocol}, {len(sessions)} sessions")
    for s, planned in zip(sessions, proposal.sessions, strict=True):
        start = cal.local(planned.start)
        when = f"{start:%a %Y-%m-%d %H:%M}-{cal.local(planned.end):%H:%M}"
        if planned.placed:
            print(f"  {s['index']:>2}. {when}  {', '.join(s['resources'])}")
        else:
            print(f"  {s['index']:>2}. NOT PLACED ({when}): {'; '.join(s['problems'])}")
            for alt in planned.alternatives:
                print(f"      alternative: {cal.local(alt):%a %Y-%m-%d %H:%M}")
    for note in proposal.plan.notes:
        print(f"  note: {note}")
    for problem in proposal.plan.problems:
        print(f"  problem: {problem}")
    for gate in proposal.gates:
        print(f"  {gate.severity.value}: {gate.message}")
    if booked is not None:
        ids = ", ".join(f"#{i}" for i in booked.appointment_ids)
        print(f"booked series #{booked.series_id}: appointments {ids}")


def _plan(args: argparse.Namespace) -> int:
    db, proposal, _now = _propose(args)
    try:
        _print(proposal, args)
    finally:
        db.dispose()
    return 0 if proposal.plan.complete and not any(g.stops_booking for g in proposal.gates) else 1


def _book(args: argparse.Namespace) -> int:
    from ketadesk.cli import CommandError, command_line_actor
    from ketadesk.services.booking import booking

    db, proposal, now = _propose(args)
    try:
        if not proposal.plan.complete:
            _print(proposal, args)
            raise CommandError("the plan is not complete; nothing was booked", status=1)
        result = booking.book(
            db,
            command_line_actor(),
            booking.BookingRequest(
                patient_id=proposal.patient_id,
                sessions=proposal.sessions,
                protocol=proposal.protocol,
                preferences={"weekdays": list(args.weekdays), "room": args.room},
            ),
            now=now,
        )
        _print(proposal, args, booked=result)
    finally:
        db.dispose()
    return 0
