"""This workstation's clinic: the database ``ketadesk run`` opens here, and every command's
``--db`` when none is given.

``ketadesk run --db URL`` remembers its clinic, once opened, in a small TOML file in the user's
configuration folder (platformdirs; ``KETADESK_CONFIG_DIR`` moves it, so tests never touch the
real home).  Without one remembered, the workstation's clinic is the file ``make run`` and plain
``ketadesk run`` keep in the user's data folder.  Neither Qt nor SQLAlchemy is imported here:
commands ask before they know whether they need a database, and the screenshot's first paint
must not load SQLAlchemy.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

#: Moves the folder of the workstation's setting (tests point it at a temporary folder).
CONFIG_DIR_ENV = "KETADESK_CONFIG_DIR"
SETTING_FILE = "workstation.toml"


class WorkstationError(Exception):
    """The workstation's setting cannot be read or written; the message says which file."""


@dataclass(frozen=True)
class WorkstationClinic:
    """The clinic this workstation opens.

    Attributes:
        url: the database URL, as commands take it after ``--db``.
        remembered: True when ``ketadesk run --db`` remembered it; False for the default file.
    """

    url: str
    remembered: bool

    def describe(self) -> str:
        """The URL for messages (a server's password hidden)."""
        return display_url(self.url)


def config_dir() -> Path:
    """The folder of KetaDesk's per-user settings (``KETADESK_CONFIG_DIR`` when set)."""
    moved = os.environ.get(CONFIG_DIR_ENV)
    if moved:
        return Path(moved).expanduser()
    from platformdirs import user_config_path

    return user_config_path("KetaDesk", appauthor=False)


def setting_path() -> Path:
    return config_dir() / SETTING_FILE


def remembered_clinic() -> str | None:
    """The database ``ketadesk run --db`` last opened here, or None."""
    path = setting_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise WorkstationError(
            f"this workstation's setting {path} cannot be read ({err}); correct or delete it, "
            "or give --db URL"
        ) from None
    clinic = data.get("clinic")
    url = clinic.get("db") if isinstance(clinic, dict) else None
    if url is None:
        return None
    if not isinstance(url, str) or not url.strip():
        raise WorkstationError(
            f"this workstation's setting {path}: clinic.db must be a database URL; correct or "
            "delete the file, or give --db URL"
        )
    return url


def workstation_clinic() -> WorkstationClinic | None:
    """The clinic ``ketadesk run`` opens here: the one it remembered, else the default file
    if it exists; None when no clinic is known on this workstation."""
    url = remembered_clinic()
    if url is not None:
        return WorkstationClinic(url, remembered=True)
    from ketadesk.paths import default_db_path, default_db_url

    if default_db_path().exists():
        return WorkstationClinic(default_db_url(), remembered=False)
    return None


def canonical_url(url: str) -> str:
    """``url`` as it is remembered: a SQLite file by its absolute path (a relative one would
    name another file from another folder); any other URL as given."""
    from ketadesk.store.database import plain_sqlite_path

    path = plain_sqlite_path(url)
    if path is None:
        return url
    return f"sqlite:///{path.expanduser().resolve()}"


def remember_clinic(url: str) -> bool:
    """Make ``url`` this workstation's clinic; False when it already was.  The file is the
    owner's only: a server URL may carry its password."""
    import tomli_w

    url = canonical_url(url)
    if remembered_clinic() == url:
        return False
    path = setting_path()
    text = (
        "# This workstation's clinic: what `ketadesk run` opens, and every command's --db by\n"
        "# default. `ketadesk run --db URL` writes it.\n"
    ) + tomli_w.dumps({"clinic": {"db": url}})
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, text.encode("utf-8"))
        finally:
            os.close(fd)
    except OSError as err:
        raise WorkstationError(
            f"this workstation's setting {path} cannot be written ({err.strerror or err})"
        ) from None
    return True


def display_url(url: str) -> str:
    """``url`` for a message: a server's password replaced by ***."""
    if "://" not in url:
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
