"""The offer of a freed place: after a cancellation, no-show or move, a small window (not
modal: the schedule stays usable) saying "N patients on the waitlist could take this place",
listing them best fit first, the first one chosen, and under them everyone else waiting with
why they cannot take it; "Book" books the place for the chosen one through the normal booking
(``services/waitlist/offers.book_offer``) and says whom to call, with their phone.  A patient
whom only warn-level rules stop is offered with those warnings, each overridden with a reason
before "Book" as in the booking dialog (``ui/common/gate_overrides``); a block stays unbookable.

Who can take the place, and why the others cannot, is the service's answer
(``offers.offers_for_freed``: the place as it came free, and the booking's own checks of each
patient), read on a worker: the panel only shows it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialogButtonBox,
    QGroupBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ketadesk.services.booking.override_rights import clinical_overriders, who_may_override
from ketadesk.services.common.context import ServiceError
from ketadesk.services.common.phones import display_phone
from ketadesk.services.waitlist.offers import (
    BookedOffer,
    WaitlistOffer,
    WaitlistOffers,
    WaitlistUnable,
    book_offer,
    offers_for_freed,
)
from ketadesk.ui.common.background import run_service
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.common.gate_overrides import (
    GateOverrides,
    MayOverride,
    gates_blocker,
    may_override_for,
)
from ketadesk.ui.common.placement import place_over


def _anyone(_rules: Collection[str]) -> bool:
    return True


def _needs_someone_else(offer: WaitlistOffer, may_override: MayOverride) -> bool:
    """Whether the offer's warnings hold a rule the signed-in user may not set aside."""
    return bool(offer.warnings) and not may_override([w.rule for w in offer.warnings])


def offer_heading(offers: WaitlistOffers, *, may_override: MayOverride = _anyone) -> str:
    """ "N patients on the waitlist could take this place (…)"; to a user who may not override
    some of their warnings, also how many of them only a nurse's or prescriber's override lets
    in (trial 3, A13: the front desk was told "1 patient could take this place" and found Book
    greyed).  Who may override is the services' rule (``override_rights``): a day the patient is
    away is the desk's to set aside, so such an offer is not counted."""
    n = len(offers.offers)
    who = "1 patient" if n == 1 else f"{n} patients"
    text = f"{who} on the waitlist could take this place ({offers.freed_text})"
    needing = sum(1 for offer in offers.offers if _needs_someone_else(offer, may_override))
    if needing:
        who_may = clinical_overriders()
        if needing == n:
            them = "them" if n > 1 else "it"
            text += f", but only after {who_may} overrides a warning: ask one to book {them}"
        else:
            text += (
                f"; {needing} of them only after {who_may} overrides a warning "
                f"(you can book the other {n - needing})"
            )
    return text


def offer_line(offer: WaitlistOffer, *, may_override: MayOverride = _anyone) -> str:
    """Two lines: who, with the phone to call; then the session they would get and what they
    asked for (a third for the warnings to override, and who may)."""
    phone = display_phone(offer.phone or "") or "no phone on file"
    text = (
        f"{offer.patient_name} (chart {offer.chart_number})   {phone}\n"
        f"{offer.session_type_name}, {offer.when_text}, {offer.room_name}"
        f"   (asked for {offer.wish_text})"
    )
    if offer.warnings:
        titles = ", ".join(w.title for w in offer.warnings)
        if not _needs_someone_else(offer, may_override):
            text += f"\n⚠ Warning: {titles} (override with a reason to book)"
        else:
            who_may = who_may_override(w.rule for w in offer.warnings)
            text += f"\n⚠ Warning: {titles} (only {who_may} may override it and book)"
    return text


def unable_heading(offers: WaitlistOffers) -> str:
    n = len(offers.unable)
    return f"Also waiting, who cannot take it ({n}):"


def unable_line(unable: WaitlistUnable) -> str:
    """Who (and for what), then why not: "Lovelace, Ada (BT-1) · IV ketamine infusion" /
    "the patient would have 2 dosing sessions on …"."""
    return (
        f"{unable.patient_name} (chart {unable.chart_number}) · {unable.session_type_name}\n"
        f"{unable.reason_text}"
    )


def nobody_line(offers: WaitlistOffers) -> str:
    """The status bar's word when a place came free and everyone waiting was turned down."""
    n = len(offers.unable)
    who = "the patient waiting" if n == 1 else f"any of the {n} patients waiting"
    return (
        f"A place came free ({offers.freed_text}); {who} cannot take it: "
        f"{offers.unable[0].reason_text}" + ("" if n == 1 else "; …") + " (Waitlist for more)"
    )


class OfferPanel(QWidget):
    """Who on the waitlist could take a freed place, and "Book" for the chosen one; who else
    waits and why they cannot.

    Signals:
        booked(object): a BookedOffer, once the place is booked for the chosen entry.

    Attributes:
        heading: "N patients on the waitlist could take this place (...)".
        offers_list: one line per offer, best fit first (the first one chosen).
        unable_heading: "Also waiting, who cannot take it (N):" (hidden when nobody else waits).
        unable_list: one line per other waiting entry with why it cannot (nothing to choose).
        book_button: books the chosen offer; result: whom to call, or why not.
    """

    booked = Signal(object)

    def __init__(self, desk: Desk, offers: WaitlistOffers, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.desk = desk
        self.offers = offers
        self.setObjectName("waitlist_offer")
        self.setWindowTitle("Waitlist: a place came free")
        self.setAccessibleName("Waitlist offer")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._booking = False
        layout = QVBoxLayout(self)
        self._build_offers(layout)
        self._build_gating(layout)
        self._build_unable(layout)
        self.result = QLabel(self)
        self.result.setObjectName("waitlist_offer_result")
        self.result.setWordWrap(True)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.result)
        self._build_buttons(layout)
        self.offers_list.currentRowChanged.connect(self._on_offers_list_current_row_changed)
        self.offers_list.setCurrentRow(0 if offers.offers else -1)
        self._on_offers_list_current_row_changed(self.offers_list.currentRow())
        self.resize(680, 380 if offers.unable else 300)

    def _build_offers(self, layout: QVBoxLayout) -> None:
        may_override = may_override_for(self.desk.actor)
        self.heading = QLabel(offer_heading(self.offers, may_override=may_override), self)
        self.heading.setObjectName("waitlist_offer_heading")
        self.heading.setWordWrap(True)
        font = self.heading.font()
        font.setBold(True)
        self.heading.setFont(font)
        layout.addWidget(self.heading)
        self.offers_list = QListWidget(self)
        self.offers_list.setObjectName("waitlist_offer_list")
        self.offers_list.setAccessibleName("Patients who could take the place, best fit first")
        self.offers_list.setWordWrap(True)
        self.offers_list.setAlternatingRowColors(True)
        self.offers_list.setSpacing(2)
        for offer in self.offers.offers:
            item = QListWidgetItem(offer_line(offer, may_override=may_override), self.offers_list)
            item.setData(Qt.ItemDataRole.UserRole, offer.entry_id)
        layout.addWidget(self.offers_list, 2)

    def _build_gating(self, layout: QVBoxLayout) -> None:
        """The chosen patient's warnings, each with its override and reason (the booking
        dialog's), and why "Book" waits."""
        self.gating = QGroupBox("Gating", self)
        self.gating.setObjectName("waitlist_offer_gating")
        self._may_override = may_override_for(self.desk.actor)
        self._gates = GateOverrides(self.gating, self._may_override, self._update_book)
        layout.addWidget(self.gating)
        self.blocker = QLabel(self)
        self.blocker.setObjectName("waitlist_offer_blocker")
        self.blocker.setWordWrap(True)
        layout.addWidget(self.blocker)

    def overrides(self) -> dict[str, str]:
        """The chosen offer's warnings overridden, rule -> reason."""
        return self._gates.overrides()

    def gate_row(self, rule: str) -> tuple[QCheckBox, QLineEdit] | None:
        """The override box and reason field of a warning of the chosen offer."""
        return self._gates.gate_row(rule)

    def _update_book(self) -> None:
        offer = self.chosen()
        problem = (
            gates_blocker(offer.warnings, self.overrides(), self._may_override)
            if offer is not None
            else ""
        )
        self.book_button.setEnabled(offer is not None and not problem and not self._booking)
        self.blocker.setText(problem)
        self.blocker.setVisible(bool(problem))

    def _build_unable(self, layout: QVBoxLayout) -> None:
        self.unable_heading = QLabel(unable_heading(self.offers), self)
        self.unable_heading.setObjectName("waitlist_offer_unable_heading")
        self.unable_list = QListWidget(self)
        self.unable_list.setObjectName("waitlist_offer_unable")
        self.unable_list.setAccessibleName("Patients waiting who cannot take the place, and why")
        self.unable_list.setWordWrap(True)
        self.unable_list.setSpacing(2)
        # Shown, not chosen: there is nothing to book for them here.
        self.unable_list.setSelectionMode(QListWidget.SelectionMode.NoSelection)
        self.unable_list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for unable in self.offers.unable:
            item = QListWidgetItem(unable_line(unable), self.unable_list)
            item.setData(Qt.ItemDataRole.UserRole, unable.entry_id)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            item.setToolTip(unable.reason_text)
        self.unable_heading.setVisible(bool(self.offers.unable))
        self.unable_list.setVisible(bool(self.offers.unable))
        layout.addWidget(self.unable_heading)
        layout.addWidget(self.unable_list, 1)

    def _build_buttons(self, layout: QVBoxLayout) -> None:
        buttons = QDialogButtonBox(self)
        self.book_button = QPushButton("&Book for the chosen patient", self)
        self.book_button.setObjectName("waitlist_offer_book")
        buttons.addButton(self.book_button, QDialogButtonBox.ButtonRole.AcceptRole)
        close = buttons.addButton(QDialogButtonBox.StandardButton.Close)
        close.clicked.connect(self.close)
        self.book_button.clicked.connect(self._on_book_button_clicked)
        self.offers_list.itemDoubleClicked.connect(self._on_book_button_clicked)
        layout.addWidget(buttons)

    def _on_offers_list_current_row_changed(self, row: int) -> None:
        offer = self.offers.offers[row] if 0 <= row < len(self.offers.offers) else None
        self._gates.show(offer.warnings if offer is not None else ())
        self._update_book()

    def chosen(self) -> WaitlistOffer | None:
        row = self.offers_list.currentRow()
        return self.offers.offers[row] if 0 <= row < len(self.offers.offers) else None

    def _on_book_button_clicked(self) -> None:
        offer = self.chosen()
        if offer is None:
            return
        if gates_blocker(offer.warnings, self.overrides(), self._may_override):
            return
        desk, overrides = self.desk, self.overrides()
        self._booking = True
        self._update_book()
        self.result.setText(f"Booking {offer.patient_name}…")
        run_service(
            self,
            lambda: book_offer(desk.db, desk.actor, offer, overrides=overrides, now=desk.now()),
            self._on_booked,
            failed=self._on_refused,
            busy="Booking from the waitlist…",
            writes=True,
        )

    def _on_booked(self, done: BookedOffer) -> None:
        self.result.setText(done.call_text)
        self.offers_list.setEnabled(False)
        self.gating.setEnabled(False)
        self.booked.emit(done)

    def _on_refused(self, err: ServiceError) -> None:
        self._booking = False
        self._update_book()
        self.result.setText(f"Not booked: {err}")

    @classmethod
    def offer_after(
        cls,
        desk: Desk,
        appointment_id: int,
        parent: QWidget | None,
        shown: object = None,
        told: Callable[[str], None] | None = None,
    ) -> None:
        """Read who could take the place ``appointment_id`` left, on a worker; when anyone
        could, build the panel, show it and hand it to ``shown`` (a callable), if given.  When
        patients wait but none can take it, ``told`` hears so in a line (the status bar)."""
        db, now = desk.db, desk.now()

        def done(offers: WaitlistOffers) -> None:
            if not offers.offers:
                if offers.unable and told is not None:
                    told(nobody_line(offers))
                return
            panel = cls(desk, offers, parent)
            place_over(panel, parent)
            panel.show()
            if callable(shown):
                shown(panel)

        run_service(
            parent,
            lambda: offers_for_freed(db, appointment_id, now=now),
            done,
            failed=lambda _err: None,  # an offer that cannot be read is no news for the desk
            busy="",
        )
