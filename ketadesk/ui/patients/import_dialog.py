"""Importing patients from a CSV file: choose the file, map its columns to the patient's fields
(guessed from the headers), check every row (a dry run that names each row's problem), then
import them all or none.

The dialog holds no rules: ``services.patients.csv_import`` reads, checks and imports.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ketadesk.scheduling.words import counted
from ketadesk.services.common.context import ServiceError
from ketadesk.services.patients.csv_import import (
    IMPORT_FIELDS,
    CsvTable,
    ImportReport,
    auto_mapping,
    import_patients,
    read_csv,
)
from ketadesk.services.patients.patient_fields import FIELD_LABELS
from ketadesk.ui.common.background import run_service
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.common.sizing import fixed_minimum

NOT_IMPORTED = "(not imported)"
# Columns of the mapping table.
COLUMN, FIELD, SAMPLE = range(3)
DIALOG_MINIMUM = QSize(560, 420)


class ImportPatientsDialog(QDialog):
    """Choose a CSV file, map its columns, check, import.

    Signals:
        loaded(): the chosen file was read (or refused: see ``message``).
        checked(object): the ImportReport of a dry run or an import.
        imported(tuple): the chart numbers given, once an import wrote them.
    """

    loaded = Signal()
    checked = Signal(object)
    imported = Signal(tuple)

    def __init__(self, desk: Desk, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._desk = desk
        self.table: CsvTable | None = None
        self.report: ImportReport | None = None
        self._busy = False
        self.setObjectName("import_patients_dialog")
        self.setWindowTitle("Import patients from a CSV file")
        layout = QVBoxLayout(self)
        layout.addLayout(self._build_file_row())
        hint = QLabel(
            "Each column goes into the patient field chosen for it. Dates are read as "
            "MM/DD/YYYY (or YYYY-MM-DD). Check the file first: nothing is imported while any "
            "row has a problem.",
            self,
        )
        hint.setWordWrap(True)
        layout.addWidget(hint)
        self.mapping_table = QTableWidget(0, 3, self)
        self.mapping_table.setHorizontalHeaderLabels(
            ["Column in the file", "Patient field", "First row"]
        )
        self.mapping_table.horizontalHeader().setStretchLastSection(True)
        self.mapping_table.verticalHeader().setVisible(False)
        self.mapping_table.setAccessibleName("Columns and the fields they fill")
        layout.addWidget(self.mapping_table, 2)
        self.summary = QLabel(self)
        self.summary.setObjectName("import_summary")
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.problems = QListWidget(self)
        self.problems.setAccessibleName("Problems, row by row")
        layout.addWidget(self.problems, 2)
        layout.addLayout(self._build_buttons())
        self.resize(820, 620)
        fixed_minimum(self, DIALOG_MINIMUM)
        self._update_buttons()

    def _build_file_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(QLabel("File:", self))
        self.path_field = QLineEdit(self)
        self.path_field.setReadOnly(True)
        self.path_field.setPlaceholderText("Choose a CSV file…")
        row.addWidget(self.path_field, 1)
        self.choose_button = QPushButton("&Choose…", self)
        self.choose_button.clicked.connect(self._on_choose_button_clicked)
        row.addWidget(self.choose_button)
        return row

    def _build_buttons(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addStretch(1)
        self.check_button = QPushButton("Chec&k (dry run)", self)
        self.import_button = QPushButton("&Import", self)
        self.close_button = QPushButton("Close", self)
        for button in (self.check_button, self.import_button, self.close_button):
            row.addWidget(button)
        self.check_button.clicked.connect(self._on_check_button_clicked)
        self.import_button.clicked.connect(self._on_import_button_clicked)
        self.close_button.clicked.connect(self.reject)
        return row

    @classmethod
    def choose_file(cls, parent: QWidget) -> str:
        """Ask for a file (an entry point tests replace)."""
        path, _filter = QFileDialog.getOpenFileName(
            parent, "Import patients", "", "CSV files (*.csv *.txt);;All files (*)"
        )
        return path

    def is_busy(self) -> bool:
        return self._busy

    # -- loading ------------------------------------------------------------------------------

    def _on_choose_button_clicked(self) -> None:
        path = self.choose_file(self)
        if path:
            self.load(Path(path))

    def load(self, path: Path) -> None:
        """Read ``path`` on a worker and show its columns, mapped as their headers suggest."""
        self.path_field.setText(str(path))
        self.table = None
        self.report = None
        self.mapping_table.setRowCount(0)
        self.problems.clear()

        def work() -> CsvTable:
            try:
                data = path.read_bytes()
            except OSError as err:
                raise ServiceError(f"cannot read {path.name}: {err.strerror or err}") from None
            return read_csv(data, source=path.name)

        self._start()
        run_service(self, work, self._on_loaded, failed=self._on_refused, busy="Reading the file…")

    def _on_loaded(self, table: CsvTable) -> None:
        self._busy = False
        self.table = table
        mapping = auto_mapping(table.headers)
        first = table.rows[0] if table.rows else ()
        self.mapping_table.setRowCount(len(table.headers))
        for row, header in enumerate(table.headers):
            name = QTableWidgetItem(header)
            name.setFlags(name.flags() & ~Qt.ItemFlag.ItemIsEditable)
            self.mapping_table.setItem(row, COLUMN, name)
            combo = QComboBox(self.mapping_table)
            combo.addItem(NOT_IMPORTED, "")
            for field in IMPORT_FIELDS:
                combo.addItem(FIELD_LABELS[field], field)
            combo.setCurrentIndex(max(combo.findData(mapping.get(header, "")), 0))
            combo.setAccessibleName(f"Field for the column {header}")
            self.mapping_table.setCellWidget(row, FIELD, combo)
            sample = QTableWidgetItem(first[row] if row < len(first) else "")
            sample.setFlags(sample.flags() & ~Qt.ItemFlag.ItemIsEditable)
            self.mapping_table.setItem(row, SAMPLE, sample)
        self.mapping_table.resizeColumnsToContents()
        self.summary.setText(
            f"{len(table.rows)} rows, {len(mapping)} of {len(table.headers)} columns mapped. "
            "Check the file before importing."
        )
        self._update_buttons()
        self.loaded.emit()

    def mapping(self) -> dict[str, str]:
        """Column -> field as chosen in the table."""
        chosen: dict[str, str] = {}
        for row in range(self.mapping_table.rowCount()):
            combo = self.mapping_table.cellWidget(row, FIELD)
            item = self.mapping_table.item(row, COLUMN)
            if isinstance(combo, QComboBox) and item is not None and combo.currentData():
                chosen[item.text()] = str(combo.currentData())
        return chosen

    def set_field(self, column: str, field: str) -> None:
        """Choose the field ``column`` fills ("" for none)."""
        for row in range(self.mapping_table.rowCount()):
            item = self.mapping_table.item(row, COLUMN)
            combo = self.mapping_table.cellWidget(row, FIELD)
            if item is not None and item.text() == column and isinstance(combo, QComboBox):
                combo.setCurrentIndex(max(combo.findData(field), 0))

    # -- checking and importing ---------------------------------------------------------------

    def _on_check_button_clicked(self) -> None:
        self.run(dry_run=True)

    def _on_import_button_clicked(self) -> None:
        self.run(dry_run=False)

    def run(self, *, dry_run: bool) -> None:
        """Check (``dry_run``) or import the file with the mapping shown."""
        table = self.table
        if table is None or self._busy:
            return
        desk, mapping = self._desk, self.mapping()
        source = Path(self.path_field.text()).name

        def work() -> ImportReport:
            return import_patients(
                desk.db, desk.actor, table, mapping, dry_run=dry_run, source=source, now=desk.now()
            )

        self._start()
        run_service(
            self,
            work,
            self._on_report,
            failed=self._on_refused,
            busy="Checking the file…" if dry_run else "Importing patients…",
            writes=not dry_run,
        )

    def _on_report(self, report: ImportReport) -> None:
        self._busy = False
        self.report = report
        self.problems.clear()
        for problem in report.problems:
            self.problems.addItem(str(problem))
        blocking = len(report.blocking)
        warnings = len(report.problems) - blocking
        if blocking:
            rows, problems = counted(report.rows, "row"), counted(blocking, "problem")
            text = f"{rows}: {problems} to fix. Nothing was imported."
        elif report.imported:
            text = (
                f"Imported {counted(len(report.imported), 'patient')}, "
                f"charts {report.imported[0]} to "
                f"{report.imported[-1]}."
            )
        elif report.dry_run:
            text = f"{counted(report.rows, 'row')}, no problems: ready to import."
        else:
            text = "The file has no rows: nothing imported."
        if warnings:
            text += f" {counted(warnings, 'warning')} (possible duplicates): see the list."
        self.summary.setText(text)
        self._update_buttons()
        self.checked.emit(report)
        if report.imported:
            self.imported.emit(report.imported)

    def _on_refused(self, err: ServiceError) -> None:
        self._busy = False
        self.summary.setText(f"Not imported: {err}")
        self._update_buttons()
        if self.table is None:
            self.loaded.emit()
        else:
            self.checked.emit(None)

    def _start(self) -> None:
        self._busy = True
        self._update_buttons()

    def _update_buttons(self) -> None:
        ready = self.table is not None and not self._busy
        done = self.report is not None and bool(self.report.imported)
        self.check_button.setEnabled(ready and not done)
        self.import_button.setEnabled(ready and not done)
        self.choose_button.setEnabled(not self._busy)
