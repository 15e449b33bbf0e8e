"""``ketadesk openings``: every feasible start of a session type over a few days."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ketadesk.cli import add_db_argument
from ketadesk.commands._planning_args import add_wishes, day_count, iso_date, positive_int


def register(sub: Any) -> None:
    text = "list every start where a session type gets all its resources"
    parser = sub.add_parser("openings", help=text, description=text)
    add_db_argument(parser)
    parser.add_argument("--session-type", required=True, metavar="NAME", help="e.g. iv_infusion")
    parser.add_argument("--from", dest="first", required=True, type=iso_date, metavar="YYYY-MM-DD")
    parser.add_argument(
        "--days", type=day_count, default=7, metavar="N", help="days to search (1-366)"
    )
    parser.add_argument("--limit", type=positive_int, metavar="N", help="show at most N")
    add_wishes(parser)
    parser.set_defaults(handler=_openings)


def _openings(args: argparse.Namespace) -> int:
    from ketadesk.cli import CommandError
    from ketadesk.commands._planning_args import clinic_today, wishes_from
    from ketadesk.services.booking.planning import search_openings
    from ketadesk.services.clinic.clinic_setup import open_clinic

    opened = open_clinic(args.db)
    try:
        answer = search_openings(
            opened.db,
            session_type=args.session_type,
            first=args.first,
            days=args.days,
            wishes=wishes_from(args),
            today=clinic_today(opened.db, args.today),
            limit=args.limit,
        )
    finally:
        opened.db.dispose()
    cal, names = answer.calendar, answer.resource_names
    rows: list[dict[str, Any]] = []
    for o in answer.search.openings:
        resources = [names[rid] for _, rid in o.assignment]
        room = next((names[rid] for need, rid in o.assignment if need in ("room", "office")), None)
        rows.append(
            {
                "start": cal.local(o.start).isoformat(),
                "end": cal.local(o.end).isoformat(),
                "room": room,
                "resources": resources,
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        from ketadesk.scheduling.dates import clock_span

        for row, o in zip(rows, answer.search.openings, strict=True):
            start, end = cal.local(o.start), cal.local(o.end)
            span = clock_span(start, end, cal.settings.time_format)
            print(f"{start:%a %Y-%m-%d} {span}  {', '.join(row['resources'])}")
    if not rows:
        reasons = "; ".join(answer.search.reasons) or "nothing fits"
        raise CommandError(f"no opening for {args.session_type}: {reasons}", status=1)
    if not args.json:
        print(f"{len(rows)} openings")
    return 0
