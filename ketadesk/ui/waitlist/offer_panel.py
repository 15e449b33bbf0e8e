"""The offer of a freed place: after a cancellation, no-show or move, a small window (not
modal: the schedule stays usable) saying "N patients on the waitlist could take this place",
listing them best fit first; "Book" books the place for the chosen one through the normal
booking (``services/waitlist/offers.book_offer``) and says whom to call, with their phone.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ketadesk.services.common.context import ServiceError
from ketadesk.services.common.phones import display_phone
from ketadesk.services.waitlist.offers import (
    BookedOffer,
    WaitlistOffer,
    WaitlistOffers,
    book_offer,
    offers_for_freed,
)
from ketadesk.ui.common.background import run_service
from ketadesk.ui.common.desk import Desk


def offer_heading(offers: WaitlistOffers) -> str:
    n = len(offers.offers)
    who = "1 patient" if n == 1 else f"{n} patients"
    return f"{who} on the waitlist could take this place ({offers.freed_text})"


def offer_line(offer: WaitlistOffer) -> str:
    """Two lines: who, with the phone to call; then the session they would get and what they
    asked for."""
    phone = display_phone(offer.phone or "") or "no phone on file"
    return (
        f"{offer.patient_name} ({offer.chart_number})   {phone}\n"
        f"{offer.session_type_name}, {offer.when_text}, {offer.room_name}"
        f"   (asked for {offer.wish_text})"
    )


class OfferPanel(QWidget):
    """Who on the waitlist could take a freed place, and "Book" for the chosen one.

    Signals:
        booked(object): a BookedOffer, once the place is booked for the chosen entry.

    Attributes:
        heading: "N patients on the waitlist could take this place (...)".
        offers_list: one line per offer, best fit first (the first one chosen).
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
        layout = QVBoxLayout(self)
        self.heading = QLabel(offer_heading(offers), self)
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
        for offer in offers.offers:
            item = QListWidgetItem(offer_line(offer), self.offers_list)
            item.setData(Qt.ItemDataRole.UserRole, offer.entry_id)
        self.offers_list.setCurrentRow(0)
        layout.addWidget(self.offers_list, 1)
        self.result = QLabel(self)
        self.result.setObjectName("waitlist_offer_result")
        self.result.setWordWrap(True)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.result)
        buttons = QDialogButtonBox(self)
        self.book_button = QPushButton("&Book for the chosen patient", self)
        self.book_button.setObjectName("waitlist_offer_book")
        buttons.addButton(self.book_button, QDialogButtonBox.ButtonRole.AcceptRole)
        close = buttons.addButton(QDialogButtonBox.StandardButton.Close)
        close.clicked.connect(self.close)
        self.book_button.clicked.connect(self._on_book_button_clicked)
        self.offers_list.itemDoubleClicked.connect(self._on_book_button_clicked)
        layout.addWidget(buttons)
        self.resize(640, 300)

    def chosen(self) -> WaitlistOffer | None:
        row = self.offers_list.currentRow()
        return self.offers.offers[row] if 0 <= row < len(self.offers.offers) else None

    def _on_book_button_clicked(self) -> None:
        offer = self.chosen()
        if offer is None:
            return
        desk = self.desk
        self.book_button.setEnabled(False)
        self.result.setText(f"Booking {offer.patient_name}…")
        run_service(
            self,
            lambda: book_offer(desk.db, desk.actor, offer, now=desk.now()),
            self._on_booked,
            failed=self._on_refused,
            busy="Booking from the waitlist…",
            writes=True,
        )

    def _on_booked(self, done: BookedOffer) -> None:
        self.result.setText(done.call_text)
        self.offers_list.setEnabled(False)
        self.booked.emit(done)

    def _on_refused(self, err: ServiceError) -> None:
        self.book_button.setEnabled(True)
        self.result.setText(f"Not booked: {err}")

    @classmethod
    def offer_after(
        cls,
        desk: Desk,
        appointment_id: int,
        parent: QWidget | None,
        shown: object = None,
    ) -> None:
        """Read who could take the place ``appointment_id`` left, on a worker; when anyone
        could, build the panel, show it and hand it to ``shown`` (a callable), if given."""
        db, now = desk.db, desk.now()

        def done(offers: WaitlistOffers) -> None:
            if not offers.offers:
                return
            panel = cls(desk, offers, parent)
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
