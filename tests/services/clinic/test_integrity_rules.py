"""``ketadesk check`` on the demo clinic seeded with a few rule violations reports each of them
as a warning naming the rule (services/clinic/integrity_rules.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from ketadesk.cli import main
from ketadesk.services.clinic.clinic_setup import open_clinic
from ketadesk.services.clinic.integrity import check_integrity
from ketadesk.services.demo.clinic import build_demo
from ketadesk.store.models import Appointment, ClinicSetting, Patient, SessionType

TODAY = dt.date(2026, 11, 24)  # the demo's today, given: no real clock is read


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    from ketadesk.services.schedule import public_holidays

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(public_holidays, "holiday_cache_dir", lambda: tmp_path / "holidays")
        path = tmp_path / "demo.sqlite"
        build_demo(f"sqlite:///{path}", rooms=6, weeks_back=1, weeks_ahead=3, today=TODAY)
        yield f"sqlite:///{path}"


def _warnings(url: str) -> set[str]:
    db = open_clinic(url).db
    try:
        return {w.message for w in check_integrity(db).warnings}
    finally:
        db.dispose()


def test_check_reports_each_seeded_violation_of_the_demo_clinic(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _warnings(url)
    db = open_clinic(url).db
    with db.write() as session:
        # The second and third booked sessions of one series (any protocol), each with a
        # booked session before it: a series' future sessions, in order.
        rows = session.execute(
            select(Appointment, Patient.last_name, SessionType.code)
            .join(Patient, Patient.id == Appointment.patient_id)
            .join(SessionType, SessionType.id == Appointment.session_type_id)
            .where(Appointment.series_id.is_not(None), Appointment.status == "booked")
            .order_by(Appointment.series_id, Appointment.series_index)
        ).all()
        by_series: dict[int, list[tuple[Appointment, str, str]]] = {}
        for appointment, last, code in rows:
            by_series.setdefault(appointment.series_id or 0, []).append((appointment, last, code))
        spravato = [m for m in by_series.values() if m[0][2] == "spravato" and len(m) >= 3]
        iv = [m for m in by_series.values() if m[0][2] == "iv_infusion" and len(m) >= 3]
        assert spravato, "the demo books Spravato series ahead"
        assert iv, "the demo books IV inductions ahead"
        # 1. A Spravato session put a day after the one before it (min_gap).
        first, second = spravato[0][0][0], spravato[0][1][0]
        shift = (first.starts_at + dt.timedelta(days=1)) - second.starts_at
        second.starts_at += shift
        second.ends_at += shift
        for hold in second.holds:
            hold.starts_at += shift
            hold.ends_at += shift
        spravato_patient = spravato[0][0][1]
        # 2. An IV series' session 1 put after its session 2 (series_order).
        one, two = iv[0][0][0], iv[0][1][0]
        shift = two.starts_at + dt.timedelta(hours=3) - one.starts_at
        one.starts_at += shift
        one.ends_at += shift
        for hold in one.holds:
            hold.starts_at += shift
            hold.ends_at += shift
        iv_patient = iv[0][0][1]
        # 3. The site's REMS certification ends before the booked Spravato sessions (blocking).
        rems = session.get(ClinicSetting, "rems")
        assert rems is not None
        rems.value = {**rems.value, "site_certified_until": TODAY.isoformat()}
    db.dispose()
    new = _warnings(url) - before
    text = "\n".join(sorted(new))
    assert f"{spravato_patient}," in text
    assert any(f"{spravato_patient}," in w and "[min_gap]" in w for w in new), text
    assert any(f"{iv_patient}," in w and "[series_order]" in w for w in new), text
    assert any("[rems_site_certified]" in w and "blocking" in w for w in new), text
    assert main(["check", "--db", url]) in (0, 1)
    out = capsys.readouterr().out
    assert "[series_order]" in out
    assert "rule warning" in out.splitlines()[-1]
