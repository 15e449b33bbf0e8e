"""Commands without --db use this workstation's clinic (the one `ketadesk run` opens) and say
which; where that default would be dangerous they refuse to guess.

Every test here has its own workstation (tests/conftest.py points KETADESK_CONFIG_DIR and
XDG_DATA_HOME at a temporary folder), so nothing touches the real home.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ketadesk import workstation
from ketadesk.cli import main
from ketadesk.paths import default_db_path
from tests.clinic_fixtures import SmallClinic, build_small_clinic

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def clinic(sqlite_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(sqlite_url)
    yield c
    c.db.dispose()


def file_of(clinic: SmallClinic) -> Path:
    return Path(str(clinic.db.url.database))


def test_the_setting_and_the_default_clinic_are_in_the_tests_folder_not_the_home() -> None:
    home = Path.home()
    assert home not in workstation.setting_path().parents
    assert home not in default_db_path().parents


def test_without_db_or_a_known_clinic_the_command_says_what_to_do(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["check"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "ketadesk check: no clinic is known on this workstation: give --db URL, or open the "
        "clinic once with `ketadesk run --db URL` (it is remembered for the commands)\n"
    )


def test_a_remembered_clinic_is_used_and_named_on_stderr(
    clinic: SmallClinic, capsys: pytest.CaptureFixture[str]
) -> None:
    assert workstation.remember_clinic(str(file_of(clinic))) is True
    assert main(["check"]) == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines()[0] == (
        f"ketadesk check: using the clinic at sqlite:///{file_of(clinic)} (this workstation's)"
    )
    assert "checked" in captured.out  # the check ran, on that clinic


def test_the_clinic_in_the_data_folder_is_the_workstations_when_none_is_remembered(
    capsys: pytest.CaptureFixture[str],
) -> None:
    default_db_path().parent.mkdir(parents=True)
    build_small_clinic(f"sqlite:///{default_db_path()}").db.dispose()
    assert main(["db", "status"]) == 0
    captured = capsys.readouterr()
    assert captured.err == (
        f"ketadesk db: using the clinic at sqlite:///{default_db_path()} (this workstation's)\n"
    )
    assert str(default_db_path()) in captured.out


def test_an_explicit_db_wins_and_says_nothing_more(
    clinic: SmallClinic, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workstation.remember_clinic(str(tmp_path / "elsewhere.sqlite"))
    assert main(["db", "status", "--db", str(file_of(clinic))]) == 0
    assert capsys.readouterr().err == ""


def test_json_output_stays_clean_when_the_clinic_is_the_default(
    clinic: SmallClinic, capsys: pytest.CaptureFixture[str]
) -> None:
    workstation.remember_clinic(str(file_of(clinic)))
    args = ["openings", "--session-type", "iv_infusion", "--from", "2026-11-24", "--days", "1",
            "--today", "2026-11-23"]  # fmt: skip
    assert main([*args, "--json"]) == 0
    captured = capsys.readouterr()
    json.loads(captured.out)  # the note went to stderr
    assert "this workstation's" in captured.err


@pytest.mark.parametrize(
    "args",
    [
        ["demo"],
        ["config", "import", "--from", "set-up.toml"],
        ["patients", "import", "--from", "patients.csv"],
        ["restore", "--from", "backup.sqlite"],
    ],
)
def test_commands_that_would_overwrite_a_clinic_never_default_to_this_workstations(
    clinic: SmallClinic, args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    workstation.remember_clinic(str(file_of(clinic)))
    with pytest.raises(SystemExit) as stopped:
        main(args)
    assert stopped.value.code == 2
    assert "the following arguments are required: --db" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["demo", "config import", "patients import", "restore"])
def test_their_help_says_why_db_is_required(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main([*command.split(), "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "required here, never this workstation's clinic by default:" in out


def test_the_others_say_their_default_in_their_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["check", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "default: this workstation's clinic, the one `ketadesk run` opens" in out


def test_db_upgrade_create_needs_db_even_when_the_workstation_has_a_clinic(
    clinic: SmallClinic, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workstation.remember_clinic(str(tmp_path / "new.sqlite"))
    assert main(["db", "upgrade", "--create"]) == 2
    assert capsys.readouterr().err == (
        "ketadesk db: --create makes a new clinic: say where with --db URL\n"
    )
    assert not (tmp_path / "new.sqlite").exists()
    # Without --create, an upgrade of the workstation's clinic is what is meant.
    workstation.remember_clinic(str(file_of(clinic)))
    assert main(["db", "upgrade"]) == 0
    assert "is up to date" in capsys.readouterr().out


def test_a_relative_file_is_remembered_by_its_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert workstation.remember_clinic("clinic.sqlite") is True
    assert workstation.remembered_clinic() == f"sqlite:///{tmp_path / 'clinic.sqlite'}"
    # The same clinic again changes nothing.
    assert workstation.remember_clinic(f"sqlite:///{tmp_path / 'clinic.sqlite'}") is False


def test_a_server_url_is_kept_owner_only_and_shown_without_its_password() -> None:
    url = "postgresql+psycopg://desk:s3cret@clinic-server:5432/harbor"
    workstation.remember_clinic(url)
    path = workstation.setting_path()
    assert path.stat().st_mode & 0o777 == 0o600
    clinic = workstation.workstation_clinic()
    assert clinic is not None
    assert clinic.url == url
    assert clinic.remembered
    assert clinic.describe() == "postgresql+psycopg://desk:***@clinic-server:5432/harbor"
    assert "s3cret" not in clinic.describe()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("[clinic\ndb = 'x'", "cannot be read"),
        ("[clinic]\ndb = 42\n", "clinic.db must be a database URL"),
    ],
)
def test_a_damaged_setting_is_named_with_its_file(
    content: str, problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = workstation.setting_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    assert main(["check"]) == 2
    err = capsys.readouterr().err
    assert f"this workstation's setting {path}" in err
    assert problem in err
    assert "--db" in err
    assert err.count("\n") == 1


def test_a_separate_process_finds_the_workstations_clinic_through_the_environment(
    clinic: SmallClinic,
) -> None:
    workstation.remember_clinic(str(file_of(clinic)))
    done = subprocess.run(
        [sys.executable, "-m", "ketadesk", "db", "status"],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == (
        f"ketadesk db: using the clinic at sqlite:///{file_of(clinic)} (this workstation's)\n"
    )
