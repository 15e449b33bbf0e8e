"""Configuration export/import: the demo clinic round-trips through one TOML file into a new
clinic (SQLite and PostgreSQL), a dry run writes nothing, and a bad file is refused whole."""

from __future__ import annotations

import base64
import datetime as dt
import os
import shutil
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from sqlalchemy import func, select

from ketadesk.cli import main
from ketadesk.scheduling.calendar import Interval
from ketadesk.scheduling.catalog import ConfigError
from ketadesk.services.access import accounts
from ketadesk.services.clinic.clinic_setup import open_clinic
from ketadesk.services.common.context import SYSTEM, Actor, PermissionDenied
from ketadesk.services.demo.clinic import build_demo
from ketadesk.services.settings import resources as rooms
from ketadesk.services.settings import staff
from ketadesk.services.settings.availability import (
    clinic_zone,
    holiday_choices,
    set_holidays_closed,
)
from ketadesk.services.settings.clinic_details import (
    LogoImage,
    clinic_details,
    save_clinic_details,
)
from ketadesk.services.settings.config_transfer import export_config, import_config
from ketadesk.store import changes
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.database import Database
from ketadesk.store.models import AuditEvent, Closure, Resource, StaffMember, User
from ketadesk.store.snapshot import load_resources, load_snapshot


@dataclass(frozen=True)
class SourceClinic:
    """The demo clinic set up further through the settings services, and its export."""

    url: str
    text: str
    now: dt.datetime


# A PNG's signature and a few bytes: all the logo check reads.
_LOGO = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(32)).decode("ascii")


def _shape_clinic(db: Database, now: dt.datetime) -> None:
    """What the features after the first export added, each set through its settings service:
    a room kept for Spravato, a retired monitor, an every-other-week shift, a nurse limited to
    some phases, an inactive staff member, users who must change password or are inactive,
    the clinic's details with a logo, and a holiday choice with a state."""
    rooms.add_resource(
        db,
        SYSTEM,
        rooms.ResourceForm("room", "treatment", "Spravato Suite", "SS", serves=("spravato",)),
        now=now,
    )
    monitor = rooms.add_resource(
        db, SYSTEM, rooms.ResourceForm("equipment", "vital_signs_monitor", "Monitor 9"), now=now
    )
    rooms.retire_resource(db, SYSTEM, monitor, now=now)
    nurse = next(s for s in staff.list_staff(db) if s.role == "nurse")
    zone = clinic_zone(db)
    monday = now.astimezone(zone).date() - dt.timedelta(days=now.astimezone(zone).weekday())
    shifts = tuple(
        replace(s, every_n_weeks=2, anchor=monday) if s.weekday == 0 else s for s in nurse.shifts
    )
    assert shifts != nurse.shifts
    with db.read() as session:
        choices = staff.phase_choices(load_catalog(session))
    limited = tuple(
        (c.session_type, c.phase)
        for c in choices
        if "nurse" in c.roles and c.session_type != "spravato"
    )
    assert limited
    staff.update_staff(
        db,
        SYSTEM,
        nurse.id,
        replace(nurse.as_form(), shifts=shifts, qualifications=limited),
        now=now,
    )
    leaving = staff.add_staff(
        db,
        SYSTEM,
        staff.StaffForm(
            "therapist",
            "Pat",
            "Lee",
            credentials="LMFT",
            shifts=(staff.ShiftRow(2, 9 * 60, 13 * 60),),
        ),
        now=now,
    )
    staff.set_staff_active(db, SYSTEM, leaving.id, False, now=now)
    accounts.create_user(
        db,
        SYSTEM,
        "plee",
        "Pat Lee",
        "therapist",
        "a-one-time-password",
        staff_id=leaving.id,
        must_change_password=True,
        now=now,
    )
    gone = next(u for u in accounts.list_users(db) if u.username == "cmendoza")
    accounts.deactivate_user(db, SYSTEM, gone.id, now=now)
    details = clinic_details(db)
    hours = tuple(
        replace(h, open=True, opens="09:00", closes="13:00") if h.day == "sat" else h
        for h in details.hours
    )
    save_clinic_details(
        db,
        SYSTEM,
        replace(details, paper_size="legal", hours=hours, logo=LogoImage("png", _LOGO)),
        now=now,
    )
    year = now.astimezone(zone).year
    set_holidays_closed(db, SYSTEM, None, subdivision="CA", now=now)
    names = [h.name for h in holiday_choices(db, year)][:4]
    set_holidays_closed(db, SYSTEM, names, now=now)


@pytest.fixture(scope="module")
def demo_export(tmp_path_factory: pytest.TempPathFactory) -> SourceClinic:
    """The small demo clinic's export, shaped by ``_shape_clinic``, with a clinic closure,
    time off and an out-of-service window to come (the demo's own closures may lie in the
    past)."""
    path = tmp_path_factory.mktemp("demo") / "demo.sqlite"
    url = f"sqlite:///{path}"
    build_demo(url, rooms=1, weeks_back=0, weeks_ahead=1, patients=5)
    db = open_clinic(url).db
    try:
        now = dt.datetime.now(dt.UTC)
        _shape_clinic(db, now)
        with db.write() as session:
            start = (now + dt.timedelta(days=30)).replace(minute=0, second=0, microsecond=0)
            member = session.scalars(select(StaffMember)).first()
            monitor = session.scalars(select(Resource).where(Resource.kind == "equipment")).first()
            assert member is not None
            assert monitor is not None
            session.add_all(
                [
                    Closure(
                        kind="closure",
                        starts_at=start,
                        ends_at=start + dt.timedelta(hours=8),
                        reason="Staff training",
                    ),
                    Closure(
                        resource_id=member.resource_id,
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
        return SourceClinic(url, export_config(db, SYSTEM, now=now), now)
    finally:
        db.dispose()


def _clinic_view(db: Database, now: dt.datetime) -> dict[str, Any]:
    """What the planner and the settings pages see of a clinic, by name (ids differ between
    clinics): every resource (retired ones too) with what it serves and its qualifications,
    who may fill each need of each session type, each staff member's working hours over the
    next four weeks, the clinic's details and holidays, and the users."""
    window = Interval(now, now + dt.timedelta(days=28))
    with db.read() as session:
        catalog = load_catalog(session)
        infos = load_resources(session, include_inactive=True)
        snapshot = load_snapshot(session, window, catalog, now=now)
    names = {r.id: r.name for r in infos}
    availability = snapshot.availability()
    calendar = snapshot.calendar
    first = calendar.local_date(now)
    hours = {
        r.name: [
            (calendar.local(i.start), calendar.local(i.end))
            for n in range(28)
            for i in calendar.shift_intervals(r.id, first + dt.timedelta(days=n))
        ]
        for r in infos
        if r.is_staff
    }
    year = calendar.local(now).year
    return {
        "resources": {
            r.name: (r.kind, r.subkind, r.capacity, r.active, r.qualifications, r.serves)
            for r in infos
        },
        "candidates": {
            (spec.code, need.key): [r.name for r in availability.candidates_for(spec, need)]
            for spec in catalog.session_types.values()
            for need in spec.needs
        },
        "hours": hours,
        "details": clinic_details(db),
        "holidays": holiday_choices(db, year),
        "users": {
            u.username: (u.display_name, u.role, u.active, u.staff_name)
            for u in accounts.list_users(db)
        },
        "names": sorted(names.values()),
    }


def _all_must_change(text: str) -> str:
    """The export of a clinic whose users all have a one-time password to change."""
    data = tomllib.loads(text)
    for user in data["users"]:
        user["must_change_password"] = True
    return tomli_w.dumps(data, multiline_strings=True)


def _counts(db: Database) -> tuple[int, int, int, int]:
    with db.read() as session:
        return (
            session.scalar(select(func.count()).select_from(AuditEvent)) or 0,
            changes.current(session),
            session.scalar(select(func.count()).select_from(Resource)) or 0,
            session.scalar(select(func.count()).select_from(User)) or 0,
        )


def test_demo_round_trips_into_a_new_clinic(db_url: str, demo_export: SourceClinic) -> None:
    text, now = demo_export.text, demo_export.now
    data = tomllib.loads(text)
    assert "password_hash" not in text
    assert "$argon2" not in text
    assert data["closures"][0]["reason"] == "Staff training"
    assert any(s["time_off"] for s in data["staff"])
    assert any(e["out_of_service"] for e in data["equipment"])
    # What the later features added is in the file.
    assert {"name": "Spravato Suite", "serves": ["spravato"]}.items() <= _named(
        data["rooms"], "Spravato Suite"
    ).items()
    assert _named(data["equipment"], "Monitor 9")["active"] is False
    nurse = next(s for s in data["staff"] if s["role"] == "nurse")
    assert [s["every_n_weeks"] for s in nurse["shifts"] if "every_n_weeks" in s] == [2]
    assert nurse["qualifications"]
    assert all(q["session_type"] != "spravato" for q in nurse["qualifications"])
    assert _named(data["staff"], "Pat Lee")["active"] is False
    plee = next(u for u in data["users"] if u["username"] == "plee")
    assert plee["must_change_password"] is True
    assert plee["staff"] == "Pat Lee"
    assert data["clinic"]["paper_size"] == "legal"
    assert data["clinic"]["logo_image"] == _LOGO
    assert data["clinic"]["holiday_subdivision"] == "CA"
    assert len(data["clinic"]["holidays_closed"]) == 4
    assert data["hours"]["sat"] == ["09:00", "13:00"]
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
            assert all(u.must_change_password for u in session.scalars(select(User)))
        # The same file again, but for the one-time passwords every new user must change.
        again_text = export_config(db, SYSTEM, now=now)
        assert again_text == _all_must_change(text)
        source = open_clinic(demo_export.url).db
        try:
            assert _clinic_view(db, now) == _clinic_view(source, now)
        finally:
            source.dispose()
        # Importing the same file again changes nothing.
        again = import_config(db, SYSTEM, text, "clinic.toml", now=now)
        assert again.written == []
        assert again.passwords == {}
        assert _counts(db)[:2] == (after_audits, after_counter)
    finally:
        db.dispose()


def _named(items: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(i for i in items if i["name"] == name)


def test_import_updates_by_name_and_leaves_the_rest_alone(
    sqlite_url: str, demo_export: SourceClinic
) -> None:
    text, now = demo_export.text, demo_export.now
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


def test_dry_run_writes_nothing(db_url: str, demo_export: SourceClinic) -> None:
    text, now = demo_export.text, demo_export.now
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


def _first_shift(**values: Any) -> Callable[[str], str]:
    return _edit(lambda d: d["staff"][1]["shifts"][0].update(values))


def _overlap(data: dict[str, Any]) -> None:
    shifts = data["staff"][1]["shifts"]
    shifts.insert(1, dict(shifts[0]))


def _nurse_qualification(**values: Any) -> Callable[[str], str]:
    # staff[0] is the demo's nurse, limited to some phases by ``_shape_clinic``.
    return _edit(lambda d: d["staff"][0]["qualifications"][0].update(values))


def _prescriber_as_nurse(data: dict[str, Any]) -> None:
    data["staff"][1]["qualifications"] = data["staff"][0]["qualifications"][:1]


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
        "clinic.toml: staff[1].shifts[0].to: it must start before it ends (17:00 is not before"
        " 09:00)",
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
    # What the later features added.
    (
        "every_n_weeks below one",
        _first_shift(every_n_weeks=0),
        "clinic.toml: staff[1].shifts[0].every_n_weeks: must be at least 1, got 0",
    ),
    (
        "alternate weeks without an anchor",
        _first_shift(every_n_weeks=2),
        "clinic.toml: staff[1].shifts[0].anchor_date: say which week it starts in",
    ),
    (
        "anchor that is not a date",
        _first_shift(every_n_weeks=2, anchor_date="next week"),
        "clinic.toml: staff[1].shifts[0].anchor_date: must be a date like 2026-01-31",
    ),
    ("overlapping shifts", _edit(_overlap), "clinic.toml: staff[1].shifts[1]: overlaps shifts[0]"),
    (
        "unknown session type served",
        _edit(lambda d: d["rooms"][0].update(serves=["laser"])),
        "clinic.toml: rooms[0].serves: no session type laser",
    ),
    (
        "served type that never uses the room",
        _edit(lambda d: d["rooms"][1].update(serves=["spravato"])),
        "clinic.toml: rooms[1].serves: Spravato (esketamine) never uses a",
    ),
    (
        "unknown session type in a qualification",
        _nurse_qualification(session_type="laser"),
        "clinic.toml: staff[0].qualifications[0].session_type: no session type 'laser' holds",
    ),
    (
        "unknown phase in a qualification",
        _nurse_qualification(phase="nap"),
        "clinic.toml: staff[0].qualifications[0].phase: no session type phase",
    ),
    (
        "qualification the role is not asked for",
        _edit(_prescriber_as_nurse),
        "does not ask for a prescriber",
    ),
    (
        "must_change_password not a flag",
        _edit(lambda d: d["users"][0].update(must_change_password="yes")),
        "clinic.toml: users[0].must_change_password: must be true or false",
    ),
    (
        "two users linked to one staff member",
        _edit(lambda d: d["users"][2].update(staff=d["users"][1]["staff"])),
        "clinic.toml: users[2].staff: Maria Reyes, RN is already linked to users[1]",
    ),
    (
        "unreadable logo",
        _edit(lambda d: d["clinic"].update(logo_image="not an image!")),
        "clinic.toml: clinic.logo_image: the logo is not a readable image",
    ),
    (
        "clinic phone",
        _edit(lambda d: d["clinic"].update(phone="call us")),
        "clinic.toml: clinic.phone: a phone number has only digits, spaces and",
    ),
    (
        "unknown state",
        _edit(lambda d: d["clinic"].update(holiday_subdivision="ZZ")),
        "clinic.toml: clinic.holiday_subdivision: ",
    ),
    (
        "unknown holiday",
        _edit(lambda d: d["clinic"].update(holidays_closed=["Festivus"])),
        "clinic.toml: clinic.holidays_closed: not a public holiday here: Festivus",
    ),
]


@pytest.mark.parametrize(("label", "spoil", "message"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_a_bad_file_names_the_place_and_writes_nothing(
    db_url: str,
    demo_export: SourceClinic,
    label: str,
    spoil: Callable[[str], str],
    message: str,
) -> None:
    text, now = demo_export.text, demo_export.now
    db = open_clinic(db_url, create=True).db
    try:
        before = _counts(db)
        with pytest.raises(ConfigError) as caught:
            import_config(db, SYSTEM, spoil(text), "clinic.toml", now=now)
        assert message in str(caught.value), label
        if label == "duplicate username":
            assert "appears twice (also users[0])" in str(caught.value)
        if label == "qualification the role is not asked for":
            assert str(caught.value).startswith("clinic.toml: staff[1].qualifications[0]: ")
        assert _counts(db) == before
    finally:
        db.dispose()


def _copy_of_source(demo_export: SourceClinic, tmp_path: Path) -> Database:
    """A copy of the source clinic, booked sessions and all."""
    source = Path(demo_export.url.removeprefix("sqlite:///"))
    for part in source.parent.glob(source.name + "*"):
        shutil.copy(part, tmp_path / part.name.replace(source.stem, "copy", 1))
    return open_clinic(f"sqlite:///{tmp_path / 'copy.sqlite'}").db


def test_a_file_does_not_retire_a_room_still_booked(
    tmp_path: Path, demo_export: SourceClinic
) -> None:
    text, now = demo_export.text, demo_export.now
    db = _copy_of_source(demo_export, tmp_path)
    try:
        with db.read() as session:
            room = session.scalars(select(Resource).where(Resource.name == "Room 1")).one()
            ahead = rooms.sessions_ahead(session, room.id, now, load_catalog(session))
        assert ahead, "the demo books Room 1 in the week ahead"
        data = tomllib.loads(text)
        assert data["rooms"][0]["name"] == "Room 1"
        data["rooms"][0]["active"] = False
        before = _counts(db)
        with pytest.raises(ConfigError) as caught:
            import_config(db, SYSTEM, tomli_w.dumps(data), "clinic.toml", now=now)
        assert str(caught.value).startswith(
            f"clinic.toml: rooms[0].active: Room 1 still holds {len(ahead)} booked session"
        )
        assert _counts(db) == before
        # A room with nothing booked ahead is retired by the file, audited.
        data["rooms"][0]["active"] = True
        data["rooms"][1]["active"] = False
        report = import_config(db, SYSTEM, tomli_w.dumps(data), "clinic.toml", now=now)
        assert [c.after for c in report.written] == [{"active": False}]
    finally:
        db.dispose()


def test_a_file_asks_for_a_new_password_and_never_clears_the_demand(
    tmp_path: Path, demo_export: SourceClinic
) -> None:
    text, now = demo_export.text, demo_export.now
    db = _copy_of_source(demo_export, tmp_path)
    try:
        assert import_config(db, SYSTEM, text, "clinic.toml", now=now).written == []
        data = tomllib.loads(text)
        assert data["users"][0]["must_change_password"] is False
        data["users"][0]["must_change_password"] = True
        report = import_config(db, SYSTEM, tomli_w.dumps(data), "clinic.toml", now=now)
        assert [(c.name, c.before, c.after) for c in report.written] == [
            (
                data["users"][0]["username"],
                {"must_change_password": False},
                {"must_change_password": True},
            )
        ]
        # The original file (false) leaves the demand in place: only a new password clears it.
        assert import_config(db, SYSTEM, text, "clinic.toml", now=now).written == []
        assert tomllib.loads(export_config(db, SYSTEM, now=now))["users"][0]["must_change_password"]
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
    tmp_path: Path, demo_export: SourceClinic, capsys: pytest.CaptureFixture[str]
) -> None:
    text = demo_export.text
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
