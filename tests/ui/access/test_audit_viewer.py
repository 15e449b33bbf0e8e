"""The audit viewer on a real clinic: filters, paging, an appointment's history, read-only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QDate, QModelIndex, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractItemView, QPushButton
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from ketadesk.services.access import audit, audit_log
from ketadesk.services.booking import appointment_changes, booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.common.context import Actor, PermissionDenied
from ketadesk.ui.access import audit_viewer
from ketadesk.ui.access.audit_viewer import AuditColumn, AuditTableModel, AuditViewer
from ketadesk.ui.common.desk import Desk
from tests.clinic_fixtures import SmallClinic, build_small_clinic

NOW = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)  # Tuesday 1 Dec 2026, 08:00 local
WED = dt.date(2026, 12, 2)
IV = [{"room": f"Room {n}", "monitor": f"Monitor {n}", "nurse": "Nurse Kim"} for n in range(1, 4)]
MARIA = Actor(user_id=None, username="maria", role="front_desk")
JO = Actor(user_id=None, username="jo", role="nurse")
SAM = Actor(user_id=None, username="sam", role="therapist")
ADMIN = Actor(user_id=None, username="boss", role="admin")


@pytest.fixture
def clinic(tmp_path: Path) -> Iterator[tuple[SmallClinic, list[int]]]:
    c = build_small_clinic(f"sqlite:///{tmp_path / 'clinic.sqlite'}")
    appointments = []
    for n, (who, actor) in enumerate(
        (("Ada Lovelace", MARIA), ("Mary Seacole", JO), ("Rosalind Franklin", MARIA))
    ):
        request = BookingRequest(
            patient_id=c.ids[who],
            sessions=(c.session("iv_infusion", WED, f"{9 + n:02d}:00", IV[n]),),
        )
        at = NOW + dt.timedelta(minutes=n)
        appointments.append(booking.book(c.db, actor, request, now=at).appointment_ids[0])
    appointment_changes.change_status(
        c.db, MARIA, appointments[2], "cancel", reason="no ride", now=NOW + dt.timedelta(hours=1)
    )
    with pytest.raises(PermissionDenied):
        appointment_changes.change_status(
            c.db, SAM, appointments[0], "cancel", reason="x", now=NOW + dt.timedelta(hours=2)
        )
    audit.record_disclosure(
        c.db, MARIA, "appointment card", c.ids["Ada Lovelace"], "printed", now=NOW
    )
    yield c, appointments
    c.db.dispose()


def _viewer(qtbot: QtBot, clinic: SmallClinic, actor: Actor = ADMIN) -> AuditViewer:
    viewer = AuditViewer(Desk(clinic.db, actor, now=lambda: NOW + dt.timedelta(hours=3)))
    qtbot.addWidget(viewer)
    viewer.resize(1200, 600)
    viewer.show()
    qtbot.waitExposed(viewer)
    return viewer


def _reload(qtbot: QtBot, viewer: AuditViewer, change: object = None) -> None:
    with qtbot.waitSignal(viewer.loaded, timeout=10_000):
        if callable(change):
            change()


def _column(viewer: AuditViewer, column: AuditColumn) -> list[str]:
    model = viewer.model
    return [model.index(r, column).data() for r in range(model.rowCount())]


def test_every_event_is_listed_newest_first_with_who_and_what(
    qtbot: QtBot, clinic: tuple[SmallClinic, list[int]]
) -> None:
    c, _ = clinic
    viewer = _viewer(qtbot, c)
    _reload(qtbot, viewer)
    actions = _column(viewer, AuditColumn.ACTION)
    assert actions[0] == "refused"  # the newest
    assert actions.count("book") == 3
    assert "cancel" in actions
    assert "disclose" in actions
    cancel = actions.index("cancel")
    assert _column(viewer, AuditColumn.WHO)[cancel] == "maria"
    assert "status: booked → cancelled" in _column(viewer, AuditColumn.CHANGES)[cancel]
    assert _column(viewer, AuditColumn.PATIENT)[cancel] == "BT-4 · Franklin, Rosalind"
    assert _column(viewer, AuditColumn.WHEN)[cancel] == "Tue Dec 1, 2026 09:00:00"
    assert viewer.status_label.text().startswith(f"{viewer.model.rowCount()} events")
    # The selected event in full below the table.
    viewer.table.selectRow(cancel)
    text = viewer.details.toPlainText()
    assert "Detail:  no ride" in text
    assert "status: booked → cancelled" in text


def test_filters_by_user_action_patient_and_dates(
    qtbot: QtBot, clinic: tuple[SmallClinic, list[int]]
) -> None:
    c, _ = clinic
    viewer = _viewer(qtbot, c)
    _reload(qtbot, viewer)
    jo = viewer.user_combo.findData("jo")
    assert jo > 0
    viewer.user_combo.setCurrentIndex(jo)
    _reload(qtbot, viewer, lambda: viewer.user_combo.activated.emit(jo))
    assert set(_column(viewer, AuditColumn.WHO)) == {"jo"}
    viewer.user_combo.setCurrentIndex(0)
    refused = viewer.action_combo.findData("refused")
    viewer.action_combo.setCurrentIndex(refused)
    _reload(qtbot, viewer, lambda: viewer.action_combo.activated.emit(refused))
    assert _column(viewer, AuditColumn.WHO) == ["sam"]
    assert "may cancel a session" in _column(viewer, AuditColumn.DETAIL)[0]
    viewer.action_combo.setCurrentIndex(0)
    _reload(qtbot, viewer, lambda: QTest.keyClicks(viewer.patient_edit, "lovelace"))
    patients = set(_column(viewer, AuditColumn.PATIENT))
    assert patients == {"BT-1 · Lovelace, Ada"}
    assert {"book", "disclose"} <= set(_column(viewer, AuditColumn.ACTION))
    # Dates: the day before shows nothing.
    viewer.patient_edit.clear()
    viewer.from_edit.setDate(QDate(2026, 11, 30))
    viewer.to_edit.setDate(QDate(2026, 11, 30))
    _reload(qtbot, viewer, lambda: viewer.dates_check.setChecked(True))
    assert viewer.model.rowCount() == 0
    assert viewer.status_label.text() == "0 events"
    _reload(qtbot, viewer, lambda: viewer.to_edit.setDate(QDate(2026, 12, 1)))
    assert viewer.model.rowCount() > 0
    _reload(qtbot, viewer, viewer.clear_button.click)
    assert viewer.filters() == {"user": None, "action": None, "patient": None}


def test_an_appointments_history_and_back(
    qtbot: QtBot, clinic: tuple[SmallClinic, list[int]]
) -> None:
    c, appointments = clinic
    viewer = _viewer(qtbot, c)
    _reload(qtbot, viewer)
    everything = viewer.model.rowCount()
    _reload(qtbot, viewer, lambda: viewer.show_appointment_history(appointments[2]))
    assert _column(viewer, AuditColumn.ACTION) == ["cancel", "book"]
    assert viewer.appointment_button.isVisible()
    assert viewer.appointment_button.text().startswith(f"Appointment #{appointments[2]}")
    _reload(qtbot, viewer, viewer.appointment_button.click)
    assert viewer.model.rowCount() == everything
    assert not viewer.appointment_button.isVisible()


def test_events_come_a_page_at_a_time(
    qtbot: QtBot, clinic: tuple[SmallClinic, list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    c, _ = clinic
    monkeypatch.setattr(audit_viewer, "PAGE_SIZE", 2)
    viewer = _viewer(qtbot, c)
    _reload(qtbot, viewer)
    assert viewer.model.rowCount() == 2
    assert viewer.more_button.isEnabled()
    assert viewer.status_label.text() == "2 events (more to load)"
    while viewer.more_button.isEnabled():
        _reload(qtbot, viewer, viewer.more_button.click)
    ids = [viewer.model.row_at(r).id for r in range(viewer.model.rowCount())]
    assert len(ids) == len(set(ids)) == len(audit_log.audit_events(c.db, ADMIN))
    times = [viewer.model.row_at(r).at for r in range(viewer.model.rowCount())]
    assert times == sorted(times, reverse=True)


def test_the_viewer_is_read_only(qtbot: QtBot, clinic: tuple[SmallClinic, list[int]]) -> None:
    c, _ = clinic
    viewer = _viewer(qtbot, c)
    _reload(qtbot, viewer)
    model = viewer.model
    for r in range(model.rowCount()):
        for col in AuditColumn:
            assert not model.flags(model.index(r, col)) & Qt.ItemFlag.ItemIsEditable
            assert not model.setData(model.index(r, col), "changed")
    assert viewer.table.editTriggers() == QAbstractItemView.EditTrigger.NoEditTriggers
    assert viewer.details.isReadOnly()
    words = [b.text().lower() for b in viewer.findChildren(QPushButton)]
    words += [a.text().lower() for a in viewer.actions()]
    assert not [w for w in words if any(k in w for k in ("delete", "edit", "remove", "save"))]
    before = model.index(0, AuditColumn.ACTION).data()
    QTest.mouseDClick(
        viewer.table.viewport(),
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
        viewer.table.visualRect(model.index(0, AuditColumn.ACTION)).center(),
    )
    QTest.keyClicks(viewer.table, "xyz")
    assert viewer.table.indexWidget(model.index(0, AuditColumn.ACTION)) is None
    assert model.index(0, AuditColumn.ACTION).data() == before


def test_a_front_desk_user_is_told_they_may_not(
    qtbot: QtBot, clinic: tuple[SmallClinic, list[int]]
) -> None:
    c, _ = clinic
    viewer = AuditViewer(Desk(c.db, MARIA, now=lambda: NOW))
    qtbot.addWidget(viewer)
    with qtbot.waitSignal(viewer.failed, timeout=10_000) as blocker:
        pass
    assert "Only an administrator may view the audit trail" in str(blocker.args[0])
    assert viewer.error_label.text().startswith("Only an administrator may view the audit trail")
    assert viewer.model.rowCount() == 0


def test_the_model_passes_the_model_tester(
    qtmodeltester: ModelTester, clinic: tuple[SmallClinic, list[int]]
) -> None:
    c, _ = clinic
    model = AuditTableModel()
    model.set_rows(audit_log.audit_events(c.db, ADMIN))
    qtmodeltester.check(model, force_py=True)  # type: ignore[no-untyped-call]
    assert model.rowCount(QModelIndex()) > 0
    assert model.headerData(AuditColumn.CHANGES, Qt.Orientation.Horizontal) == "Before → after"


def test_a_reading_of_clinical_data_is_shown_in_words(
    qtbot: QtBot, clinic: tuple[SmallClinic, list[int]]
) -> None:
    c, appointments = clinic
    audit.record_view(
        c.db,
        JO,
        "monitoring record",
        c.ids["Mary Seacole"],
        entity="appointment",
        entity_id=appointments[1],
        now=NOW + dt.timedelta(hours=4),
    )
    viewer = _viewer(qtbot, c)
    _reload(qtbot, viewer)
    assert _column(viewer, AuditColumn.ACTION)[0] == "viewed"
    assert _column(viewer, AuditColumn.WHO)[0] == "jo"
    assert (
        _column(viewer, AuditColumn.WHAT)[0]
        == f"monitoring record (appointment #{appointments[1]})"
    )
    assert _column(viewer, AuditColumn.PATIENT)[0].endswith("Seacole, Mary")
    assert _column(viewer, AuditColumn.CHANGES)[0] == ""  # a reading changes nothing
    viewer.table.selectRow(0)
    text = viewer.details.toPlainText()
    assert "Action:  viewed" in text
    assert "Field: before → after" not in text
