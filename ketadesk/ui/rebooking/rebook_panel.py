"""The rebooking offer: right after a session of a series is cancelled or marked a no-show, a
small window (not modal: the schedule stays usable) says what was missed and the fee recorded,
previews the make-up the planner proposes (date, time, room, and the later sessions it moves)
with the clinic's rules it breaks, and offers three answers: book the make-up, put the patient
on the waitlist, or let the series continue one short.  Each answer is written by
``services/rebooking/makeup.py`` and recorded on the series.  A make-up the rules refuse is
refused naming each rule; when every rule in the way is a "warn" one and the signed-in role may
override, the shared override dialog asks the reason and the make-up is booked with it.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ketadesk.scheduling.protocol_rules import Finding, stopping
from ketadesk.services.booking.rule_check import RuleRefused
from ketadesk.services.common.context import Actor, ServiceError, may
from ketadesk.services.common.phones import display_phone
from ketadesk.services.rebooking.makeup import (
    MadeUp,
    RebookingOffer,
    book_make_up,
    continue_short,
    offer_for,
    put_on_waitlist,
)
from ketadesk.ui.common import override_dialog
from ketadesk.ui.common.background import run_service
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.common.override_dialog import RefusedRule
from ketadesk.ui.common.placement import place_over


def make_up_lines(offer: RebookingOffer) -> list[str]:
    """The preview, one line per session: the make-up first, then each session it moves.  Only
    a make-up the desk may book is listed: one the spacing or a blocking rule refuses is no
    offer, and the panel says why instead (a user trial saw both at once)."""
    if not offer.can_make_up or offer.make_up is None:
        return []
    m = offer.make_up
    lines = [f"Make-up {m.index}/{offer.planned_count}: {m.when_text}, {m.room_name}  (new)"]
    for move in offer.moves:
        lines.append(
            f"Session {move.index}/{offer.planned_count}: {move.when_text}, {move.room_name}"
            f"  (moves from {move.was_text})"
        )
    return lines


def offer_reason(offer: RebookingOffer) -> str:
    """Under the preview: why no make-up is listed, or the "warn" rules a listed one breaks
    (the booking asks their override); "" when there is nothing to say."""
    if offer.decided:
        return f"Already decided: {offer.decided}."
    if offer.problems:
        return "No make-up that keeps the series: " + "; ".join(offer.problems)
    if offer.blocked:
        return "No make-up the clinic's rules allow: " + "; ".join(
            f.text(offer.override_roles) for f in offer.blocked
        )
    if offer.make_up is None or not offer.make_up.session.placed:
        return "No make-up: the planner found no place for it."
    if stopping(offer.findings):
        # The rules overridden on record already were decided; those still in the way.
        return "The clinic's rules: " + "; ".join(
            f.text(offer.override_roles) for f in stopping(offer.findings)
        )
    return ""


def overridable(err: ServiceError, actor: Actor) -> list[Finding]:
    """The rules of a refusal ``actor`` may push past with a reason, as the services decide
    (``RuleRefused.overridable_by``: every rule in the way a "warn" one; a day the patient is
    away anyone's who books, a clinical rule one of the clinic's override roles); else none."""
    if not isinstance(err, RuleRefused):
        return []
    return list(err.overridable_by(actor))


class RebookPanel(QWidget):
    """What becomes of a cancelled or missed series session, asked there and then.

    Signals:
        decided(str): an answer was written; the words for the status bar.
        made_up(RebookingOffer, MadeUp): the make-up was booked (the desk makes it undoable).

    Attributes:
        heading: what was missed ("No-show: IV ketamine infusion 3/6, Tue 11/24 09:00").
        fee_label: the fee recorded with it, if any.
        preview: the proposed make-up and the sessions it moves, or why there is none.
        make_up_button, waitlist_button, short_button: the three answers.
        result: what was done, or why not.
    """

    decided = Signal(str)
    made_up = Signal(object, object)

    def __init__(self, desk: Desk, offer: RebookingOffer, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.desk = desk
        self.offer = offer
        self.setObjectName("rebooking_offer")
        self.setWindowTitle(f"Series session missed: {offer.patient_name}")
        self.setAccessibleName("Rebooking offer")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        layout = QVBoxLayout(self)
        layout.addWidget(self._build_heading())
        layout.addWidget(self._build_preview(), 1)
        self.result = QLabel(self)
        self.result.setObjectName("rebooking_result")
        self.result.setWordWrap(True)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.result)
        layout.addLayout(self._build_buttons())
        self._update_buttons()
        self.resize(640, self.sizeHint().height())

    def _build_heading(self) -> QWidget:
        box = QWidget(self)
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        offer = self.offer
        self.heading = QLabel(f"{offer.patient_name}: {offer.missed_text}", box)
        self.heading.setObjectName("rebooking_heading")
        self.heading.setWordWrap(True)
        font = self.heading.font()
        font.setBold(True)
        self.heading.setFont(font)
        column.addWidget(self.heading)
        phone = display_phone(offer.phone or "") or "no phone on file"
        about = QLabel(f"{offer.protocol_name}; phone {phone}", box)
        about.setWordWrap(True)
        column.addWidget(about)
        self.fee_label = QLabel(offer.fee_text or "No fee for this one.", box)
        self.fee_label.setObjectName("rebooking_fee")
        column.addWidget(self.fee_label)
        return box

    def _build_preview(self) -> QGroupBox:
        offer = self.offer
        lines = make_up_lines(offer)
        title = "Proposed make-up, keeping the series' spacing" if lines else "No make-up offered"
        group = QGroupBox(title, self)
        column = QVBoxLayout(group)
        self.preview = QListWidget(group)
        self.preview.setObjectName("rebooking_preview")
        self.preview.setAccessibleName("The make-up session and the sessions it moves")
        self.preview.addItems(lines)
        # As tall as the lines it has (a make-up and a few moves), not a screenful, and not
        # squeezed when a refusal below takes lines: the window grows instead.  Nothing to book,
        # nothing listed: the reason below says why.
        rows = max(2, min(self.preview.count(), 6))
        self.preview.setFixedHeight(rows * max(self.preview.sizeHintForRow(0), 0) + 8)
        self.preview.setVisible(bool(lines))
        column.addWidget(self.preview, 1)
        self.problems = QLabel(group)
        self.problems.setObjectName("rebooking_problems")
        self.problems.setWordWrap(True)
        self.problems.setText(offer_reason(offer))
        column.addWidget(self.problems)
        return group

    def _build_buttons(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.make_up_button = QPushButton("&Book the make-up", self)
        self.make_up_button.setObjectName("rebooking_make_up")
        self.make_up_button.setToolTip("Book the session shown, moving the later ones listed")
        self.waitlist_button = QPushButton("Put on the &waitlist", self)
        self.waitlist_button.setObjectName("rebooking_waitlist")
        self.waitlist_button.setToolTip("Offer them the next place that frees up instead")
        self.short_button = QPushButton(f"&{self.offer.short_text}", self)
        self.short_button.setObjectName("rebooking_short")
        self.short_button.setToolTip("No make-up: recorded on the series")
        close = QPushButton("Decide &later", self)
        close.setObjectName("rebooking_close")
        for button in (self.make_up_button, self.waitlist_button, self.short_button):
            row.addWidget(button)
        row.addStretch(1)
        row.addWidget(close)
        self.make_up_button.clicked.connect(self._on_make_up_button_clicked)
        self.waitlist_button.clicked.connect(self._on_waitlist_button_clicked)
        self.short_button.clicked.connect(self._on_short_button_clicked)
        close.clicked.connect(self.close)
        return row

    def _update_buttons(self, *, done: bool = False) -> None:
        offer, actor = self.offer, self.desk.actor
        open_ = not done and not offer.decided
        self.make_up_button.setEnabled(open_ and offer.can_make_up and may(actor, "book"))
        self.waitlist_button.setEnabled(open_ and may(actor, "manage_waitlist"))
        self.short_button.setEnabled(open_ and may(actor, "book"))

    def _write(
        self,
        work: Callable[[], object],
        words: Callable[[object], str],
        failed: Callable[[ServiceError], None] | None = None,
    ) -> None:
        for button in (self.make_up_button, self.waitlist_button, self.short_button):
            button.setEnabled(False)
        self.result.setText("Saving…")

        def done(value: object) -> None:
            text = words(value)
            self.result.setText(text)
            self._update_buttons(done=True)
            self.decided.emit(text)

        run_service(
            self, work, done, failed=failed or self._on_refused, busy="Rebooking…", writes=True
        )

    def _on_refused(self, err: ServiceError) -> None:
        self._update_buttons()
        self.result.setText(f"Not done: {err}")

    def _on_make_up_refused(self, err: ServiceError) -> None:
        """The rules refused the make-up: a role that may override a "warn" rule is asked the
        reason (the shared dialog) and the make-up is booked again with it."""
        self._on_refused(err)
        rules = overridable(err, self.desk.actor)
        if not rules:
            return
        reason = override_dialog.ask_override_reason(
            self,
            step="book this make-up",
            rules=[RefusedRule(f.rule, f.title, f.message) for f in rules],
            actor_name=self.desk.actor.username,
        )
        if reason:
            self._book({f.rule: reason for f in rules})

    def _on_make_up_button_clicked(self) -> None:
        self._book({})

    def _book(self, overrides: dict[str, str]) -> None:
        desk, offer = self.desk, self.offer

        def words(made: object) -> str:
            assert isinstance(made, MadeUp)
            self.made_up.emit(offer, made)
            return made.text

        # Refused again with a reason given: said, not asked twice.
        self._write(
            lambda: book_make_up(desk.db, desk.actor, offer, overrides=overrides, now=desk.now()),
            words,
            failed=self._on_refused if overrides else self._on_make_up_refused,
        )

    def _on_waitlist_button_clicked(self) -> None:
        desk, offer = self.desk, self.offer
        self._write(
            lambda: put_on_waitlist(desk.db, desk.actor, offer.appointment_id, now=desk.now()),
            lambda _id: f"{offer.patient_name} is on the waitlist for a make-up session.",
        )

    def _on_short_button_clicked(self) -> None:
        desk, offer = self.desk, self.offer
        self._write(
            lambda: continue_short(desk.db, desk.actor, offer.appointment_id, now=desk.now()),
            lambda text: f"{offer.patient_name}: {text}.",
        )

    @classmethod
    def offer_after(
        cls,
        desk: Desk,
        appointment_id: int,
        parent: QWidget | None,
        shown: Callable[[RebookPanel], None] | None = None,
    ) -> None:
        """Read the offer for ``appointment_id`` on a worker; when it is a cancelled or missed
        session of a series, build the panel, show it and hand it to ``shown``."""
        db, now = desk.db, desk.now()

        def done(offer: RebookingOffer | None) -> None:
            if offer is None or offer.decided:
                return
            panel = cls(desk, offer, parent)
            place_over(panel, parent)
            panel.show()
            if shown is not None:
                shown(panel)

        run_service(
            parent,
            lambda: offer_for(db, appointment_id, now=now),
            done,
            failed=lambda _err: None,  # an offer that cannot be read is no news for the desk
            busy="",
        )
