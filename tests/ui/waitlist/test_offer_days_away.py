"""The offer of a freed place to a patient who is away that day, through the panel, for the front
desk: the offer says the day is a day away, the desk is not told to fetch a nurse, ticks
"Override", gives the reason and books, recorded and audited.  With a clinical warning beside
it, the desk is told a nurse or prescriber must override, and may not tick that one.

tests/ui/clinic_day.py's Tuesday, "now" 10:15 (tests/ui/conftest.py NOW); Turing's 13:30
Spravato is cancelled and Mary, waiting for an afternoon IV, is away that day.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from ketadesk.services.booking import appointment_changes
from ketadesk.services.common.context import Actor
from ketadesk.services.patients.days_away import add_day_away
from ketadesk.services.waitlist import offers
from ketadesk.store.models import Appointment, AuditEvent, GatingOverride, Patient, WaitlistEntry
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.waitlist.offer_panel import OfferPanel
from tests.clinic_fixtures import SmallClinic
from tests.ui.clinic_day import TUESDAY
from tests.ui.conftest import NOW
from tests.ui.waitlist.test_waitlist_ui import _mary_waits_for_a_tuesday_afternoon_iv

FRONT_DESK = Actor(user_id=None, username="jo", role="front_desk")
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


def _offers_with_mary_away(clinic: SmallClinic) -> tuple[int, offers.WaitlistOffers]:
    entry_id = _mary_waits_for_a_tuesday_afternoon_iv(clinic)
    add_day_away(
        clinic.db, FRONT_DESK, clinic.ids["Mary Seacole"], TUESDAY, TUESDAY, "moving house", now=NOW
    )
    with clinic.db.read() as s:
        turing = s.scalar(
            select(Appointment.id).where(
                Appointment.patient_id == clinic.ids["Alan Turing"],
                Appointment.status == "booked",
            )
        )
    assert turing is not None
    appointment_changes.change_status(
        clinic.db, FRONT_DESK, turing, "cancel", reason="flu", now=NOW
    )
    found = offers.offers_for_freed(clinic.db, turing, now=NOW)
    assert [o.entry_id for o in found.offers] == [entry_id]
    return entry_id, found


def _panel(qtbot: QtBot, clinic: SmallClinic, found: offers.WaitlistOffers) -> OfferPanel:
    panel = OfferPanel(Desk(clinic.db, FRONT_DESK, lambda: NOW), found)
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def _keep_picture(panel: OfferPanel, name: str) -> None:
    folder = os.environ.get("KETADESK_SCREENSHOTS")
    if folder:
        panel.grab().save(str(Path(folder) / name))


def test_the_front_desk_books_an_offer_on_a_day_away_with_a_reason(
    qtbot: QtBot, clinic: SmallClinic
) -> None:
    entry_id, found = _offers_with_mary_away(clinic)
    panel = _panel(qtbot, clinic, found)
    assert "only after" not in panel.heading.text()
    line = panel.offers_list.item(0).text()
    assert "⚠ Warning: Patient away (override with a reason to book)" in line
    row = panel.gate_row("patient_away")
    assert row is not None
    box, reason = row
    assert box.isVisibleTo(panel)
    gating = " ".join(label.text() for label in panel.gating.findChildren(QLabel))
    assert "falls while the patient is away" in gating
    assert "(moving house)" in gating
    assert not panel.book_button.isEnabled()
    assert panel.blocker.text() == (
        "Override each gating warning with a reason, or fix the patient's record."
    )
    box.setChecked(True)
    reason.setText("the move is done by noon; she confirmed")
    assert panel.book_button.isEnabled()
    _keep_picture(panel, "waitlist-offer-day-away-front-desk.png")
    panel.book_button.click()
    qtbot.waitUntil(lambda: "Call" in panel.result.text(), timeout=10_000)
    with clinic.db.read() as s:
        entry = s.get(WaitlistEntry, entry_id)
        assert entry is not None
        assert entry.status == "booked"
        kept = s.execute(
            select(GatingOverride.rule, GatingOverride.reason).where(
                GatingOverride.appointment_id == entry.appointment_id
            )
        ).all()
        audited = s.execute(
            select(AuditEvent.detail, AuditEvent.username).where(
                AuditEvent.action == "override_rule",
                AuditEvent.entity_id == entry.appointment_id,
            )
        ).all()
    assert [tuple(k) for k in kept] == [("patient_away", "the move is done by noon; she confirmed")]
    assert [tuple(a) for a in audited] == [
        ("patient_away: the move is done by noon; she confirmed", "jo")
    ]


def test_a_clinical_warning_beside_it_is_still_a_nurses(qtbot: QtBot, clinic: SmallClinic) -> None:
    with clinic.db.write() as s:
        mary = s.get(Patient, clinic.ids["Mary Seacole"])
        assert mary is not None
        mary.driver_name = ""
    _entry_id, found = _offers_with_mary_away(clinic)
    panel = _panel(qtbot, clinic, found)
    assert panel.heading.text().endswith(
        ", but only after a nurse or prescriber overrides a warning: ask one to book it"
    )
    assert "(only a nurse or prescriber may override it and book)" in (
        panel.offers_list.item(0).text()
    )
    away = panel.gate_row("patient_away")
    driver = panel.gate_row("driver_arranged")
    assert away is not None
    assert driver is not None
    assert away[0].isVisibleTo(panel)  # the day away is the desk's to set aside
    assert not driver[0].isVisibleTo(panel)
    away[0].setChecked(True)
    away[1].setText("she will be back")
    assert not panel.book_button.isEnabled()
    assert panel.blocker.text() == "Gating warnings need a nurse or prescriber to override them."
