"""``ketadesk reminders send``: one run of the e-mail reminder outbox, for cron or a scheduled
task (the same service the application's background loop calls)."""

from __future__ import annotations

import argparse
from typing import Any

from ketadesk.cli import add_db_argument


def register(sub: Any) -> None:
    text = "e-mail appointment reminders"
    parser = sub.add_parser("reminders", help=text, description=text)
    kinds = parser.add_subparsers(dest="reminders_command", metavar="ACTION", required=True)
    send_text = (
        "queue a reminder for each booked session of a patient who agreed to them, drop those "
        "of cancelled sessions, follow moved ones, and send what is due through the clinic's "
        "SMTP server (Settings > E-mail reminders), retrying refused messages later; run it "
        "every few minutes from cron"
    )
    send = kinds.add_parser("send", help="send the reminders that are due", description=send_text)
    add_db_argument(send)
    send.set_defaults(handler=_send)


def _send(args: argparse.Namespace) -> int:
    from ketadesk.services.clinic.clinic_setup import open_clinic
    from ketadesk.services.reminders.mail_settings import read_reminder_settings
    from ketadesk.services.reminders.outbox import run_outbox

    db = open_clinic(args.db).db
    try:
        if not read_reminder_settings(db).enabled:
            print("e-mail reminders are off (Settings > E-mail reminders): nothing sent")
            return 0
        run = run_outbox(db)
    finally:
        db.dispose()
    print(
        f"queued {run.queued}, updated {run.updated}, dropped {run.dropped}, sent {run.sent}, "
        f"to retry {run.retrying}, failed {run.failed}"
    )
    return 1 if run.failed else 0
