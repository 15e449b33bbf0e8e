"""Where KetaDesk finds its bundled files and keeps the user's database."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _bundled(name: str) -> Path:
    # In a wheel, hatchling puts resources/ and db/ inside the package as _resources/ and _db/;
    # in a source checkout they sit beside the package.
    installed = _PACKAGE / f"_{name}"
    return installed if installed.is_dir() else _PACKAGE.parent / name


def resources_dir() -> Path:
    return _bundled("resources")


def config_dir() -> Path:
    return resources_dir() / "config"


def migrations_dir() -> Path:
    return _bundled("db")


def user_data_dir() -> Path:
    from platformdirs import user_data_path

    return user_data_path("KetaDesk", appauthor=False)


def user_documents_dir() -> Path:
    """The user's Documents folder (where a printed-to-file document is proposed)."""
    from platformdirs import user_documents_path

    return user_documents_path()


def default_db_path() -> Path:
    return user_data_dir() / "clinic.sqlite"


def default_db_url() -> str:
    return f"sqlite:///{default_db_path()}"
