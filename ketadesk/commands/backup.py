"""``ketadesk backup --db URL --out FILE`` and ``ketadesk restore --from FILE --db URL``.

Both verify their result.  An existing file is replaced only with ``--force`` (or, when
standard input is a terminal, after a yes at the prompt); never a prompt without a terminal.
Exit status 0 on success, 2 for bad input (nothing changed), 1 when a copy fails to verify.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ketadesk.cli import CommandError, add_db_argument, command_line_actor


def register(sub: Any) -> None:
    bk = sub.add_parser(
        "backup",
        help="copy a SQLite clinic to a backup file (consistent while in use) and verify it",
    )
    add_db_argument(bk)
    bk.add_argument("--out", metavar="FILE", required=True, help="the backup file to write")
    bk.add_argument("--force", action="store_true", help="replace FILE if it exists")
    bk.set_defaults(handler=_backup)
    rs = sub.add_parser(
        "restore",
        help="restore a SQLite clinic from a backup file and verify it",
        description="Restore a clinic from a backup. An existing clinic is replaced only with "
        "--force, and is first copied aside as <name>.before-restore-<time>.bak; its audit "
        "events newer than the backup are carried over, and the restore is recorded.",
    )
    rs.add_argument("--from", dest="source", metavar="FILE", required=True, help="the backup file")
    add_db_argument(rs, required_because="a restore replaces the whole clinic")
    rs.add_argument("--force", action="store_true", help="replace the clinic if it exists")
    rs.set_defaults(handler=_restore)


def _backup(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ketadesk.services.clinic import backup as svc

    out = Path(args.out).expanduser()
    force = args.force or _confirmed(out.exists(), f"replace the existing file {out}?")
    try:
        result = svc.backup(args.db, out, overwrite=force)
    except svc.TargetExists as err:
        raise CommandError(f"{err.path} already exists; add --force to replace it") from None
    except svc.BackupRefused as err:
        raise CommandError(str(err)) from None
    print(
        f"backed up {_counted(result.appointments, 'appointment')} to {result.path} "
        f"({svc.human_size(result.size)}), verified"
    )
    _warn_if_unencrypted(result.path)
    return 0


def _warn_if_unencrypted(path: object) -> None:
    """A backup is a whole copy of the clinic: on a plain USB stick it is all the patients'
    data in a pocket (docs/SECURITY.md)."""
    from pathlib import Path

    from ketadesk.services.clinic.at_rest import volume_encryption

    found = volume_encryption(Path(str(path)))
    if not found.verified:
        print(
            f"warning: {path} is on a disk that is not known to be encrypted ({found.how}); "
            "keep backups on encrypted media"
        )


def _restore(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ketadesk.services.clinic import backup as svc
    from ketadesk.store.database import plain_sqlite_path

    target = plain_sqlite_path(args.db)
    exists = target is not None and target.exists()
    force = args.force or _confirmed(
        exists, f"replace the clinic {target} (it is copied aside first)?"
    )
    try:
        result = svc.restore(
            Path(args.source).expanduser(), args.db, overwrite=force, actor=command_line_actor()
        )
    except svc.TargetExists as err:
        raise CommandError(
            f"{err.path} already exists; add --force to replace it (it is copied aside first)"
        ) from None
    except svc.BackupRefused as err:
        raise CommandError(str(err)) from None
    aside = f"; the previous clinic was copied to {result.set_aside}" if result.set_aside else ""
    if result.carried_events:
        aside += f"; {_counted(result.carried_events, 'newer audit event')} carried over from it"
    upgraded = f"; upgraded from schema {result.upgraded_from}" if result.upgraded_from else ""
    verdict = (
        f"integrity check found {_counted(result.problems, 'problem')} (run ketadesk check)"
        if result.problems
        else "verified, no problems"
    )
    print(
        f"restored {_counted(result.appointments, 'appointment')} to {result.target}, "
        f"{verdict}{upgraded}{aside}"
    )
    return 0


def _confirmed(needed: bool, question: str) -> bool:
    """Ask on a terminal only; without one (CI, scripts) the answer is no."""
    if not needed or not sys.stdin.isatty():
        return False
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def _counted(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"
