"""``ketadesk check --db URL``: the integrity check, one line per problem and a summary.

Exit status 0 when the database is clean (warnings only), 1 when anything is wrong (double
bookings, a patient in two sessions at once, inconsistent rows), 2 when it cannot be read.
The check only reads: it never upgrades the schema or repairs anything.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ketadesk.cli import add_db_argument


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "check",
        help="check the database for double bookings and inconsistent rows (read-only)",
        description="Check a clinic database: overlapping or over-capacity holds, a patient in "
        "two sessions at once, sessions when the clinic, a room or a staff member is "
        "unavailable, and rows that contradict one another. Warns of booked sessions that "
        "break a protocol or gating rule and of sessions still to come on a patient's days "
        "away (call the patient). Prints one line per problem; exit status 1 if there are any "
        "errors (warnings alone leave it 0).",
    )
    add_db_argument(parser)
    parser.add_argument(
        "--today",
        metavar="YYYY-MM-DD",
        help="act as at the start of this day at the clinic (for scripts and tests)",
    )
    parser.set_defaults(handler=_check)


def _check(args: argparse.Namespace) -> int:
    from ketadesk.cli import CommandError
    from ketadesk.commands._planning_args import clinic_now, iso_date
    from ketadesk.services.booking.tentative import release_expired_holds
    from ketadesk.services.clinic.at_rest import clinic_at_rest
    from ketadesk.services.clinic.clinic_setup import open_clinic
    from ketadesk.services.clinic.integrity import check_integrity
    from ketadesk.services.clinic.integrity_config import CONFIG_CODE, CONFIG_HINT
    from ketadesk.services.clinic.integrity_report import Severity

    try:
        today = iso_date(args.today) if args.today else None
    except argparse.ArgumentTypeError as err:
        raise CommandError(str(err)) from None
    # upgrade=False: an outdated database is reported, never converted by a check.
    opened = open_clinic(args.db, upgrade=False)
    try:
        now = clinic_now(opened.db, today)[1] if today is not None else None
        # Tentative holds past their deadline are released here (there is no background job).
        released = release_expired_holds(opened.db, now=now)
        report = check_integrity(opened.db, now=now)
        at_rest = clinic_at_rest(opened.db)
    finally:
        opened.db.dispose()
    if released:
        print(f"released {_counted(len(released), 'tentative hold')} past its deadline")
    for problem in report.problems:
        warning = problem.severity is Severity.WARNING
        print(f"warning: {problem.message}" if warning else problem.message)
    # Shipped rule keys the stored configuration lacks, booked sessions that break a protocol
    # or gating rule, and sessions on a patient's days away (each message says "warning: "):
    # the exit status is the rows'.
    for rule_warning in report.warnings:
        print(rule_warning.message)
    if any(w.code == CONFIG_CODE for w in report.warnings):
        print(f"warning: {CONFIG_HINT}")
    count = len(report.errors)
    warnings = len(report.problems) - count
    verdict = _counted(count, "problem") if count else "no problems"
    if warnings:
        verdict += f", {_counted(warnings, 'warning')}"
    if report.warnings:
        verdict += f", {_counted(len(report.warnings), 'rule warning')}"
    appointments = _counted(report.appointments, "appointment")
    print(f"checked {appointments} and {_counted(report.holds, 'hold')}: {verdict}")
    if at_rest.notice:
        # A warning about the machine, not a problem in the data: on stderr, and the exit status
        # is the data's.
        print(f"warning: {at_rest.notice}", file=sys.stderr)
    return 1 if count else 0


def _counted(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"
