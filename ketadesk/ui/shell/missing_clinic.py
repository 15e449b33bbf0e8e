"""The question ``ketadesk run`` asks when the clinic file it was pointed at does not exist:
create a new, empty clinic there, open another clinic file, or quit.  A new clinic is built on
a worker (the dialog stays responsive); the first-administrator dialog and the set-up assistant
follow as for any new clinic."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ketadesk.services.clinic.clinic_setup import create_clinic_file
from ketadesk.services.common.context import ServiceError
from ketadesk.ui.common.background import run_service

#: The files the "Open another clinic file" chooser offers.
CLINIC_FILES = "KetaDesk clinic (*.sqlite *.db);;All files (*)"


@dataclass(frozen=True)
class MissingClinicAnswer:
    """What the administrator chose: ``path`` is the clinic to open (the new one, or the file
    chosen instead); None to quit."""

    path: Path | None
    created: bool = False


class MissingClinicDialog(QDialog):
    """Asks what to do about a clinic file that does not exist.

    Attributes:
        answer: the choice, once the dialog is closed (quit until then).
    """

    def __init__(self, path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.path = path
        self.answer = MissingClinicAnswer(None)
        self.setWindowTitle("No clinic here yet")
        layout = QVBoxLayout(self)
        layout.addWidget(self._build_text())
        self.create_button = QPushButton("Create a new, empty clinic here")
        self.open_button = QPushButton("Open another clinic file…")
        self.quit_button = QPushButton("Quit")
        for button in (self.create_button, self.open_button, self.quit_button):
            layout.addWidget(button)
        self.create_button.setDefault(True)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.create_button.clicked.connect(self._on_create_clicked)
        self.open_button.clicked.connect(self._on_open_clicked)
        self.quit_button.clicked.connect(self.reject)
        self.setMinimumWidth(520)

    def _build_text(self) -> QLabel:
        text = QLabel(
            f"<p>There is no KetaDesk clinic at<br><b>{self.path}</b></p>"
            "<p>Create a new, empty clinic in that file: you then add its first administrator, "
            "and the set-up assistant walks you through the clinic's details, rooms and "
            "equipment, staff and users. Or open the clinic file you meant.</p>"
        )
        text.setWordWrap(True)
        text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        return text

    @classmethod
    def ask(cls, path: Path, parent: QWidget | None = None) -> MissingClinicAnswer:
        """Show the question and wait for the answer (tests replace this)."""
        dialog = cls(path, parent)
        dialog.exec()
        return dialog.answer

    def choose_file(self) -> Path | None:
        """The clinic file the administrator picks instead (None: they changed their mind)."""
        chosen, _ = QFileDialog.getOpenFileName(
            self, "Open a clinic file", str(self.path.parent), CLINIC_FILES
        )
        return Path(chosen) if chosen else None

    def _on_open_clicked(self) -> None:
        chosen = self.choose_file()
        if chosen is None:
            return
        self.answer = MissingClinicAnswer(chosen)
        self.accept()

    def _on_create_clicked(self) -> None:
        for button in (self.create_button, self.open_button, self.quit_button):
            button.setEnabled(False)
        self.status.setStyleSheet("")
        self.status.setText("Creating the clinic…")
        path = self.path
        run_service(
            self,
            lambda: create_clinic_file(path),
            self._on_created,
            failed=self._on_create_failed,
            busy="Creating the clinic…",
            writes=True,
        )

    def _on_created(self, _result: None) -> None:
        self.answer = MissingClinicAnswer(self.path, created=True)
        self.accept()

    def _on_create_failed(self, err: ServiceError) -> None:
        for button in (self.create_button, self.open_button, self.quit_button):
            button.setEnabled(True)
        self.status.setStyleSheet("color: #b00020")
        self.status.setText(str(err))
