"""Configuration export/import: the demo clinic round-trips through one TOML file into a new
clinic (SQLite and PostgreSQL), a dry run writes nothing, and a bad file is refused whole."""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from sqlalchemy import func, select

from ketadesk.cli import main
from ketadesk.scheduling.catalog import ConfigError
from ketadesk.services.clinic.clinic_setup import open_clinic
from ketadesk.services.common.context import SYSTEM, Actor, PermissionDenied
from ketadesk.services.demo.clinic import build_demo
from ketadesk.services.settings.config_transfer import export_config, import_config
from ketadesk.store import changes
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.database import Database
from ketadesk.store.models import AuditEvent, Closure, Resource, StaffMember, User


@pytest.fixture(scope="module")
def demo_export(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dt.datetime]:
    """The small demo clinic's export, with a clinic closure, time off and an out-of-service
    window to come (the demo's own closures may lie in the past)."""
    path = tmp_path_factory.mktemp("demo") / "demo.sqlite"
    url = f"sqlite:///{path}"
    build_demo(url, rooms=1, weeks_back=0, weeks_ahead=1, patients=5)
    db = open_clinic(url).db
    try:
        with db.write() as session:
            catalog = load_catalog(session)
            now = dt.datetime.now(dt.UTC)
            start = (now + dt.timedelta(days=30)).replace(minute=0, second=0, microsecond=0)
            staff = session.scalars(select(StaffMember)).first()
            monitor = session.scalars(select(Resource).where(Resource.kind == "equipment")).first()
            assert staff is not None
            assert monitor is not None
            assert catalog
            session.add_all(
                [
                    Closure(
                        kind="closure",
                        starts_at=start,
                        ends_at=start + dt.timedelta(hours=8),
                        reason="Staff training",
                    ),
                    Closure(
                        resource_id=staff.resource_id,
                        kind="time_off",
                        starts_at=start + dt.timedelta(days=2),
                        ends_at=start + dt.timedelta(days=4),
                        reason="Vacation",
                    ),
                    Closure(
                        resource_id=monitor.id,
                        kind="maintenance",
                        starts_at=start + dt.timedelta(days=1),
                        ends_at=start + dt.timedelta(days=1, hours=3),
                        reason="Calibration",
                    ),
                ]
            )
        return export_config(db, SYSTEM, now=now), now
    finally:
        db.dispose()


def _counts(db: Database) -> tuple[int, int, int, int]:
    with db.read() as session:
        return (
            session.scalar(select(func.count()).select_from(AuditEvent)) or 0,
            changes.current(session),
            session.scalar(select(func.count()).select_from(Resource)) or 0,
            session.scalar(select(func.count()).select_from(User)) or 0,
        )


def test_demo_round_trips_into_a_new_clinic(
    db_url: str, demo_export: tuple[str, dt.datetime]
) -> None:
    text, now = demo_export
    data = tomllib.loads(text)
    assert "password_hash" not in text
    assert "$argon2" not in text
    assert data["closures"][0]["reason"] == "Staff training"
    assert any(s["time_off"] for s in data["staff"])
    assert any(e["out_of_service"] for e in data["equipment"])
    db = open_clinic(db_url, create=True).db
    try:
        audits, counter, _, _ = _counts(db)
        report = import_config(db, SYSTEM, text, "clinic.toml", now=now)
        assert set(report.passwords) == {u["username"] for u in data["users"]}
        assert len(set(report.passwords.values())) == len(report.passwords)
        after_audits, after_counter, resources, users = _counts(db)
        assert after_audits - audits == len(report.written)
        assert after_counter == counter + 1
        assert resources == len(data["rooms"]) + len(data["equipment"]) + len(data["staff"])
        assert users == len(data["users"])
        with db.read() as session:
            assert all(u.password_hash for u in session.scalars(select(User)))
        assert export_config(db, SYSTEM, now=now) == text
        # Importing the same file again changes nothing.
        again = import_config(db, SYSTEM, text, "clinic.toml", now=now)
        assert again.written == []
        assert again.passwords == {}
        assert _counts(db)[:2] == (after_audits, after_counter)
    finally:
        db.dispose()


def test_import_updates_by_name_and_leaves_the_rest_alone(
    sqlite_url: str, demo_export: tuple[str, dt.datetime]
) -> None:
    text, now = demo_export
    db = open_clinic(sqlite_url, create=True).db
    try:
        import_config(db, SYSTEM, text, "clinic.toml", now=now)
        data = tomllib.loads(text)
        gone = data["rooms"].pop()["name"]
        data["rooms"][0]["capacity"] = 2
        data["staff"][0]["shifts"] = data["staff"][0]["shifts"][:1]
        report = import_config(db, SYSTEM, tomli_w.dumps(data), "clinic.toml", now=now)
        lines = report.lines()
        assert f"left alone: room {gone}" in lines
        assert f"update: room {data['rooms'][0]['name']}" in lines
        assert f"update: staff {data['staff'][0]['name']}" in lines
        assert report.passwords == {}
        with db.read() as session:
            assert session.scalar(select(Resource.id).where(Resource.name == gone))
            event = session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == "import_update_resource")
                .order_by(AuditEvent.id)
            ).first()
            assert event is not None
            assert event.before == {"capacity": 1}
            assert event.after == {"capacity": 2}
    finally:
        db.dispose()


def test_dry_run_writes_nothing(db_url: str, demo_export: tuple[str, dt.datetime]) -> None:
    text, now = demo_export
    db = open_clinic(db_url, create=True).db
    try:
        before = _counts(db)
        report = import_config(db, SYSTEM, text, "clinic.toml", dry_run=True, now=now)
        assert report.written
        assert report.passwords == {}
        assert report.lines()[-1].endswith("nothing written (dry run)")
        assert _counts(db) == before
    finally:
        db.dispose()


def _edit(edit: Callable[[dict[str, Any]], None]) -> Callable[[str], str]:
    def apply(text: str) -> str:
        data = tomllib.loads(text)
        edit(data)
        return tomli_w.dumps(data)

    return apply


def _set_shift(data: dict[str, Any]) -> None:
    data["staff"][1]["shifts"][0] |= {"from": "17:00", "to": "09:00"}


BAD_FILES: list[tuple[str, Callable[[str], str], str]] = [
    ("bad toml", lambda t: t + "\nname = \n", "clinic.toml: not valid TOML"),
    (
        "unknown room kind",
        _edit(lambda d: d["rooms"][0].update(kind="lab")),
        "clinic.toml: rooms[0].kind: must be one of treatment, office; got 'lab'",
    ),
    (
        "shift from after to",
        _edit(_set_shift),
        "clinic.toml: staff[1].shifts[0].to: ends (09:00) before it starts (17:00)",
    ),
    (
        "duplicate username",
        _edit(lambda d: d["users"][2].update(username=d["users"][0]["username"])),
        "clinic.toml: users[2].username: ",
    ),
    (
        "unknown session type",
        _edit(lambda d: d["protocols"]["iv_induction"]["stages"][0].update(session_type="laser")),
        "clinic.toml: protocols.iv_induction.stages[0].session_type",
    ),
    (
        "bad slot minutes",
        _edit(lambda d: d["clinic"].update(slot_minutes=7)),
        "clinic.toml: clinic.slot_minutes: must divide an hour evenly, got 7",
    ),
]


@pytest.mark.parametrize(("label", "spoil", "message"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_a_bad_file_names_the_place_and_writes_nothing(
    db_url: str,
    demo_export: tuple[str, dt.datetime],
    label: str,
    spoil: Callable[[str], str],
    message: str,
) -> None:
    text, now = demo_export
    db = open_clinic(db_url, create=True).db
    try:
        before = _counts(db)
        with pytest.raises(ConfigError) as caught:
            import_config(db, SYSTEM, spoil(text), "clinic.toml", now=now)
        assert message in str(caught.value), label
        if label == "duplicate username":
            assert "appears twice (also users[0])" in str(caught.value)
        assert _counts(db) == before
    finally:
        db.dispose()


def test_only_administrators_transfer_configuration(sqlite_url: str) -> None:
    db = open_clinic(sqlite_url, create=True).db
    nurse = Actor(user_id=None, username="kim", role="nurse")
    try:
        with pytest.raises(PermissionDenied):
            export_config(db, nurse)
        with pytest.raises(PermissionDenied):
            import_config(db, nurse, "", "x.toml")
    finally:
        db.dispose()


def test_command_line(
    tmp_path: Path, demo_export: tuple[str, dt.datetime], capsys: pytest.CaptureFixture[str]
) -> None:
    text, _ = demo_export
    source = tmp_path / "in.toml"
    source.write_text(text, encoding="utf-8")
    target = f"sqlite:///{os.path.join(tmp_path, 'new.sqlite')}"
    assert main(["db", "upgrade", "--create", "--db", target]) == 0
    assert main(["config", "import", "--db", target, "--from", str(source), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "create: room" in out
    assert "nothing written (dry run)" in out
    assert "one-time" not in out
    assert main(["config", "import", "--db", target, "--from", str(source)]) == 0
    out = capsys.readouterr().out
    assert "one-time passwords" in out
    exported = tmp_path / "out.toml"
    assert main(["config", "export", "--db", target, "--out", str(exported)]) == 0
    assert tomllib.loads(exported.read_text(encoding="utf-8"))["users"]
    bad = tmp_path / "bad.toml"
    bad.write_text("[clinic\n", encoding="utf-8")
    assert main(["config", "import", "--db", target, "--from", str(bad)]) == 2
    assert "bad.toml: not valid TOML" in capsys.readouterr().err
