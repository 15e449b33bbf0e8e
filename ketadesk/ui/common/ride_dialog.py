"""The ride home, asked when a session after which the patient may not drive is completed:
the driver or escort is here (the name on the patient record, prefilled), or why the patient
leaves without one.

The dialog decides nothing: the services said a ride is needed (``completion.RideNeeded``,
with the rule in words and the driver on record); it hands the answer back, and the
completion records it with the change and in the audit.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from ketadesk.scheduling.ride_home import RideHome, ride_problem
from ketadesk.services.common.phones import display_phone
from ketadesk.ui.common.sizing import ContentHeight

__all__ = ["RideDialog", "ask_ride_home"]


class RideDialog(QDialog):
    """Confirm the driver or escort, or record why not; OK only with a whole answer (a name,
    or a reason), the missing part said under the choices."""

    def __init__(
        self, parent: QWidget | None, *, question: str, driver_name: str, driver_phone: str
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Ride home")
        self.setObjectName("ride-dialog")
        heading = QLabel(question)
        heading.setWordWrap(True)
        heading.setObjectName("ride-question")
        self._here = QRadioButton("The driver or escort is here")
        self._here.setObjectName("ride-here")
        self._none = QRadioButton("No driver or escort")
        self._none.setObjectName("ride-none")
        group = QButtonGroup(self)
        group.addButton(self._here)
        group.addButton(self._none)
        self._name = QLineEdit(driver_name)
        self._name.setObjectName("ride-name")
        self._name.setAccessibleName("Driver or escort")
        self._name.setPlaceholderText("Name of the driver or escort")
        self._reason = QLineEdit()
        self._reason.setObjectName("ride-reason")
        self._reason.setAccessibleName("Why there is no ride")
        self._reason.setPlaceholderText("Why (required): e.g. taxi booked by the clinic")
        form = QFormLayout()
        form.addRow(self._here)
        form.addRow("Name:", self._name)
        if driver_phone.strip():
            form.addRow("Phone on record:", QLabel(display_phone(driver_phone)))
        form.addRow(self._none)
        form.addRow("Why:", self._reason)
        self._problem = QLabel()
        self._problem.setObjectName("ride-problem")
        self._problem.setWordWrap(True)
        self._buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self._ok = self._buttons.button(QDialogButtonBox.StandardButton.Ok)
        self._ok.setText("Complete the session")
        self._buttons.accepted.connect(self.accept)
        self._buttons.rejected.connect(self.reject)
        for signal in (self._here.toggled, self._none.toggled):
            signal.connect(self._on_answer_changed)
        self._name.textChanged.connect(self._on_answer_changed)
        self._reason.textChanged.connect(self._on_answer_changed)
        self._name.textEdited.connect(lambda _t: self._here.setChecked(True))
        self._reason.textEdited.connect(lambda _t: self._none.setChecked(True))
        (self._here if driver_name.strip() else self._none).setChecked(True)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addLayout(form)
        layout.addWidget(self._problem)
        layout.addWidget(self._buttons)
        ContentHeight(self)  # what is missing wraps, and the window grows to show it all
        self.setMinimumWidth(self.fontMetrics().averageCharWidth() * 64)
        self._on_answer_changed()

    def answer(self) -> RideHome:
        return RideHome(self._here.isChecked(), self._name.text(), self._reason.text())

    def set_answer(self, ride: RideHome) -> None:
        """For tests and the keyboard: the answer as if chosen and typed."""
        (self._here if ride.here else self._none).setChecked(True)
        (self._name if ride.here else self._reason).setText(ride.name if ride.here else ride.reason)

    def _on_answer_changed(self, *_args: object) -> None:
        problem = ride_problem(self.answer())
        self._ok.setEnabled(problem is None)
        self._problem.setText(f"To complete: {problem}." if problem else "")


def ask_ride_home(
    parent: QWidget | None, *, question: str, driver_name: str, driver_phone: str
) -> RideHome | None:
    """The answer given in the dialog, or None when cancelled.  Tests replace this function
    (``monkeypatch.setattr(ride_dialog, "ask_ride_home", ...)``) rather than drive a modal
    loop."""
    dialog = RideDialog(
        parent, question=question, driver_name=driver_name, driver_phone=driver_phone
    )
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    return dialog.answer()
