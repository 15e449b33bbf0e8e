"""``ketadesk plan`` (a dry run) and ``ketadesk book`` (commit): a whole series for a patient."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from ketadesk.cli import add_db_argument
from ketadesk.commands._planning_args import add_wishes, iso_date, local_datetime
from ketadesk.scheduling.dates import clock_span


def register(sub: Any) -> None:
    for name, handler, text in (
        ("plan", _plan, "propose a whole series for a patient (writes nothing)"),
        ("book", _book, "plan a whole series and book it, all or nothing"),
    ):
        parser = sub.add_parser(name, help=text, description=text)
        add_db_argument(parser)
        parser.add_argument("--patient", required=True, metavar="CHART", help="chart number")
        single = name == "book"
        parser.add_argument(
            "--protocol", required=not single, metavar="NAME", help="e.g. iv_induction"
        )
        parser.add_argument(
            "--start",
            required=not single,
            type=iso_date,
            metavar="YYYY-MM-DD",
            help="first day of the series (with --session-type: first day to search)",
        )
        if single:
            _add_single_arguments(parser)
            add_wishes(
                parser,
                room_help="with --session-type: the room it must have (refused when that room "
                "is not free, naming its next free time and the rooms free then); for a "
                "series: the preferred room",
            )
        else:
            add_wishes(parser)
        parser.add_argument(
            "--other-days",
            action="store_true",
            help="with --weekdays: let the plan use other weekdays where the ones asked for "
            "cannot be used (without it, a weekday the clinic never opens is refused)",
        )
        parser.set_defaults(handler=handler)


def _add_single_arguments(parser: argparse.ArgumentParser) -> None:
    """``book --session-type NAME --at 'YYYY-MM-DD HH:MM'``: one appointment, not a series."""
    parser.add_argument(
        "--session-type",
        metavar="NAME",
        help="book one appointment of this type (e.g. intake, booster_review) instead of a series",
    )
    parser.add_argument(
        "--at",
        type=local_datetime,
        metavar="'YYYY-MM-DD HH:MM'",
        help="with --session-type: exactly then, 'YYYY-MM-DD 14:30' or 'YYYY-MM-DD 2:30pm' "
        "(without it: the next available time)",
    )
    parser.add_argument(
        "--part-of-day",
        choices=("morning", "afternoon", "any"),
        default="any",
        help="with --session-type and no --at: the next available morning or afternoon",
    )
    parser.add_argument(
        "--tentative",
        action="store_true",
        help="pencil it in (held until the clinic's deadline; confirmed once the gates pass)",
    )


def _open(args: argparse.Namespace) -> tuple[Any, Any, Callable[[], Any]]:
    """The clinic, the command's "now", and a planner of the series asked for (each call plans
    on what is free then)."""
    from ketadesk.commands._planning_args import clinic_now, wishes_from
    from ketadesk.services.booking import planning
    from ketadesk.services.clinic.clinic_setup import open_clinic

    opened = open_clinic(args.db)
    try:
        if args.weekdays and not args.other_days:
            _refuse_closed_weekdays(opened.db, args.weekdays, args.command)
        today, now = clinic_now(opened.db, args.today)
    except BaseException:  # a refusal too: no connection is left open behind it
        opened.db.dispose()
        raise

    def plan() -> Any:
        return planning.propose_series(
            opened.db,
            chart=args.patient,
            protocol=args.protocol,
            start=args.start,
            wishes=wishes_from(args),
            today=today,
        )

    return opened.db, now, plan


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
    fmt = cal.settings.time_format
    for s, planned in zip(sessions, proposal.sessions, strict=True):
        start = cal.local(planned.start)
        when = f"{start:%a %Y-%m-%d} {clock_span(start, cal.local(planned.end), fmt)}"
        if planned.placed:
            print(f"  {s['index']:>2}. {when}  {', '.join(s['resources'])}")
        else:
            print(f"  {s['index']:>2}. NOT PLACED ({when}): {'; '.join(s['problems'])}")
            for alt in planned.alternatives:
                print(f"      alternative: {cal.local(alt):%a %Y-%m-%d} {cal.clock(alt)}")
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
    db, _now, plan = _open(args)
    try:
        proposal = plan()
        _print(proposal, args)
    finally:
        db.dispose()
    return 0 if proposal.plan.complete and not any(g.stops_booking for g in proposal.gates) else 1


def _book(args: argparse.Namespace) -> int:
    from ketadesk.cli import CommandError, command_line_actor
    from ketadesk.services.booking import booking
    from ketadesk.services.booking.replanning import book_replanning

    if args.session_type:
        if args.protocol:
            raise CommandError("give --protocol (a series) or --session-type (one appointment)")
        return _book_single(args)
    if args.at is not None:
        raise CommandError("--at goes with --session-type; a series takes --start")
    if not args.protocol or args.start is None:
        raise CommandError("book needs --protocol and --start, or --session-type")

    db, now, plan = _open(args)
    actor = command_line_actor()

    def complete(proposal: Any, lost: tuple[str, ...]) -> None:
        if not proposal.plan.complete:
            _print(proposal, args)
            after = (
                f" (after another workstation took a place planned {len(lost)} "
                f"time{'s' if len(lost) != 1 else ''})"
                if lost
                else ""
            )
            raise CommandError(f"the plan is not complete{after}; nothing was booked", status=1)

    def book(proposal: Any) -> Any:
        return booking.book(
            db,
            actor,
            booking.BookingRequest(
                patient_id=proposal.patient_id,
                sessions=proposal.sessions,
                protocol=proposal.protocol,
                preferences={"weekdays": list(args.weekdays), "room": args.room},
            ),
            now=now,
        )

    try:
        # A place another workstation takes between the plan and the booking: the series is
        # planned again on what is free then, as one appointment is (_book_single).
        done = book_replanning(
            plan,
            book,
            sessions=lambda proposal: proposal.sessions,
            bookable=complete,
            what=lambda proposal: f"the {proposal.protocol} series",
            hint="plan it again with `ketadesk plan`",
        )
        _say_lost(done.lost)
        _print(done.proposal, args, booked=done.result)
    finally:
        db.dispose()
    return 0


def _say_lost(lost: tuple[str, ...]) -> None:
    import sys

    for place in lost:
        print(
            f"ketadesk book: another workstation took the place planned ({place}); planned again",
            file=sys.stderr,
        )


def _book_single(args: argparse.Namespace) -> int:
    """One appointment: planned, then booked; a place another workstation takes meanwhile is
    planned again (``single.book_single_replanning``, at most ``REPLAN_ATTEMPTS`` plans), and a
    room named with --room is the only one it may have."""
    from ketadesk.cli import CommandError, command_line_actor
    from ketadesk.commands._planning_args import clinic_now
    from ketadesk.services.booking.planning import PlanWishes, session_json
    from ketadesk.services.booking.single import (
        NotPlaced,
        SingleProposal,
        book_single_replanning,
        day_part_bounds,
        propose_single,
    )
    from ketadesk.services.clinic.clinic_setup import open_clinic

    opened = open_clinic(args.db)
    db = opened.db
    try:
        today, now = clinic_now(db, args.today)
        earliest, latest = day_part_bounds(args.part_of_day)
        wishes = PlanWishes(
            weekdays=tuple(args.weekdays),
            time=args.time,
            earliest=args.earliest or earliest,
            latest=args.latest or latest,
            room=args.room,
            staff=args.staff,
        )

        def plan() -> SingleProposal:
            return propose_single(
                db,
                chart=args.patient,
                session_type=args.session_type,
                at=args.at,
                first=args.start,
                today=today,
                now=now,
                wishes=wishes,
                room_required=args.room is not None,
            )

        try:
            booked = book_single_replanning(
                db, command_line_actor(), plan, tentative=args.tentative, now=now
            )
        except NotPlaced as err:
            raise CommandError(str(err), status=1) from None
        _say_lost(booked.lost)
        proposal, result = booked.proposal, booked.result
        planned = proposal.session
        assert planned is not None
        cal = proposal.calendar
        word = "pencilled in" if args.tentative else "booked"
        if args.json:
            out = session_json(planned, cal, proposal.resource_names)
            out |= {
                "patient": args.patient,
                "appointment_id": result.appointment_ids[0],
                "status": "tentative" if args.tentative else "booked",
            }
            print(json.dumps(out, indent=2))
        else:
            names = ", ".join(
                dict.fromkeys(proposal.resource_names[h.resource_id] for h in planned.holds)
            )
            start, end = cal.local(planned.start), cal.local(planned.end)
            print(
                f"{word} #{result.appointment_ids[0]}: {proposal.patient_name}, "
                f"{proposal.session_type_name}, {start:%a %m/%d/%Y} "
                f"{clock_span(start, end, cal.settings.time_format)}  {names}"
            )
    finally:
        db.dispose()
    return 0
