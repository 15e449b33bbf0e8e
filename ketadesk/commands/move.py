"""``ketadesk move --db URL --appointment ID --to 'YYYY-MM-DD HH:MM' [--room NAME]
[--override RULE=REASON --user NAME] [--if-version N]``: one appointment moved with the same
checks as a drag.

Exit status 0 when it moved (the output ends with the version the move left, for the next
``--if-version``), 1 when the clinic's rules or the schedule refuse it (each reason on its own
line, naming its rule), 2 for bad input (an unknown appointment, room or rule, a time that is
not one) and for an appointment no longer at the ``--if-version`` given (changed since the
script read it: the window's words for a stale drop, nothing written).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ketadesk.cli import add_db_argument


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "move",
        help="move one appointment, with the same checks as a drag in the day view",
        description="Move one appointment to a new time (the clinic's wall-clock time) and "
        "optionally another room. Every rule a drag checks is checked: the room and resources, "
        "the patient's other sessions, the protocol's gaps, doses per week and series order, "
        "courses at once, and the gating rules (prior authorization, REMS) for the new day. "
        "A refused move prints each broken rule with its code; a rule the clinic lets a "
        "clinician override ('warn') may be overridden with --override RULE=REASON by the "
        "account given with --user (a nurse or prescriber by default).",
    )
    add_db_argument(parser)
    parser.add_argument("--appointment", required=True, metavar="ID", help="appointment number")
    parser.add_argument(
        "--to",
        required=True,
        metavar="'YYYY-MM-DD HH:MM'",
        help="the new start, clinic time ('YYYY-MM-DD 14:30' or 'YYYY-MM-DD 2:30pm')",
    )
    parser.add_argument("--room", metavar="NAME", help="the room (default: the one it has)")
    parser.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="RULE=REASON",
        help="go ahead despite a 'warn' rule (e.g. min_gap='family emergency'); repeatable",
    )
    parser.add_argument(
        "--user",
        metavar="NAME",
        help="the KetaDesk account whose decision an override is (its role must be allowed)",
    )
    parser.add_argument("--reason", default="", help="why the appointment moves (audited)")
    parser.add_argument(
        "--patient-knows",
        action="store_true",
        help="the patient was told the new time (otherwise the move may owe a schedule-change "
        "call on the follow-up queue)",
    )
    parser.add_argument(
        "--if-version",
        type=int,
        metavar="N",
        help="move it only if it is still at version N (as a move printed it, or `patients "
        "away add` listed it); changed since, it is refused with what happened, by whom and "
        "when, exit status 2, nothing written (default: whatever it is now)",
    )
    parser.add_argument(
        "--today",
        metavar="YYYY-MM-DD",
        help="act as at the start of this day at the clinic (for scripts and tests)",
    )
    parser.set_defaults(handler=_move)


def _move(args: argparse.Namespace) -> int:
    from ketadesk.cli import CommandError, command_line_actor
    from ketadesk.commands._planning_args import clinic_now, iso_date, local_datetime
    from ketadesk.scheduling.calendar import ClinicCalendar
    from ketadesk.services.booking.changed_elsewhere import ChangedElsewhere
    from ketadesk.services.booking.move_request import (
        MoveRefused,
        account_actor,
        describe,
        move_appointment,
    )
    from ketadesk.services.clinic.clinic_setup import open_clinic
    from ketadesk.services.common.context import InvalidRequest, NotFound
    from ketadesk.store.clinic_config import load_catalog

    try:
        appointment_id = int(args.appointment)
    except ValueError:
        raise CommandError(f"--appointment {args.appointment!r} is not a number") from None
    try:
        to = local_datetime(args.to)
        today = iso_date(args.today) if args.today else None
    except argparse.ArgumentTypeError as err:
        raise CommandError(str(err)) from None
    overrides: dict[str, str] = {}
    for given in args.override:
        rule, sep, reason = given.partition("=")
        if not sep or not rule.strip() or not reason.strip():
            raise CommandError(f"--override {given!r}: give RULE=REASON, e.g. min_gap='fever'")
        overrides[rule.strip()] = reason.strip()
    if overrides and not args.user:
        raise CommandError(
            "an override is a clinician's decision: give --user NAME, the account making it"
        )
    opened = open_clinic(args.db)
    db = opened.db
    try:
        _, now = clinic_now(db, today)
        try:
            actor = account_actor(db, args.user) if args.user else command_line_actor()
            done = move_appointment(
                db,
                actor,
                appointment_id,
                to,
                room=args.room,
                overrides=overrides,
                now=now,
                reason=args.reason,
                expected_version=args.if_version,
                patient_knows=args.patient_knows,
            )
        except ChangedElsewhere as err:
            print(
                f"ketadesk move: appointment #{appointment_id} is no longer at version "
                f"{args.if_version}:",
                file=sys.stderr,
            )
            for reason in err.reasons:
                print(f"  - {reason}", file=sys.stderr)
            if err.version is not None:
                print(f"  (it is at version {err.version} now)", file=sys.stderr)
            return 2
        except MoveRefused as err:
            # The words scripts already read, then the version it stays at.
            version = f" (it stays at version {err.version})" if err.version is not None else ""
            print(
                f"ketadesk move: appointment #{appointment_id} cannot move there{version}:",
                file=sys.stderr,
            )
            for reason in err.reasons:
                print(f"  - {reason}", file=sys.stderr)
            return 1
        except (NotFound, InvalidRequest) as err:
            if getattr(err, "findings", None):
                raise
            raise CommandError(str(err)) from None
        with db.read() as session:
            calendar = ClinicCalendar(load_catalog(session).settings)
        print(describe(done, calendar))
    finally:
        db.dispose()
    return 0
