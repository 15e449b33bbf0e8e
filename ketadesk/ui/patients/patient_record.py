"""The patient record: contact and gating facts, each series with its progress and gaps, upcoming
sessions, history, open follow-ups and recent outcome measures, with the record's actions.

``PatientRecordView`` fits in a tab or a dialog.  It reads the record through
``services.patient_record.patient_record`` on a worker thread and lays it out; decisions (what
counts as done, which gap breaks the protocol) are the service's.  Editing goes through
``PatientFormDialog``; printing through ``DocumentPrinter``; the calendar export through
``services.export.patient_calendar``.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QAction, QColor, QKeyEvent, QKeySequence, QPalette, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ketadesk.scheduling.dates import clock_span
from ketadesk.scheduling.words import role_name
from ketadesk.services.common.context import ServiceError, may
from ketadesk.services.common.phones import display_phone
from ketadesk.services.followups.recall import AtRiskRow
from ketadesk.services.monitoring.measurements import MeasureTrend, instruments, measure_trend
from ketadesk.services.patients.patient_record import (
    PatientRecord,
    RecordSession,
    SeriesProgress,
    patient_record,
)
from ketadesk.services.printing.export import patient_calendar
from ketadesk.ui.common.background import BackgroundCall, LatestOnly, run_service
from ketadesk.ui.common.colors import is_dark, mix
from ketadesk.ui.common.dates import short_date
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.patients.days_away import DaysAwayBox
from ketadesk.ui.patients.merge_dialog import MergePatientsDialog
from ketadesk.ui.patients.patient_form import PatientFormDialog
from ketadesk.ui.patients.trend_chart import TrendChart
from ketadesk.ui.printing.print_dialogs import DocumentPrinter

if TYPE_CHECKING:
    from typing_extensions import override
else:  # typing.override is Python 3.12+; the decorator only informs the type checker.
    _F = TypeVar("_F")

    def override(method: _F) -> _F:
        return method


#: Good / wrong / not needed marks of the gating facts, for light and dark palettes.
OK_COLORS = ("#1e7e34", "#5bd07a")
WRONG_COLORS = ("#c5221f", "#ff8a80")
#: The series statuses a prescriber may still end (services/booking/series_end.py).
ENDABLE = frozenset({"planned", "active"})
SESSION_COLUMNS = ("Date", "Time", "Session", "Series", "Room", "Status")
APPOINTMENT_ROLE = Qt.ItemDataRole.UserRole


def session_row(s: RecordSession, time_format: str) -> list[str]:
    """One session as the record's tables show it (its times in the clinic's format)."""
    return [
        short_date(s.start, year=True),
        clock_span(s.start, s.end, time_format),
        s.session_type,
        s.series_label,
        s.room or "—",
        s.status_label,
    ]


#: The size a record window opens at (``ui/shell/pages.py``): everything on it fits there.
RECORD_SIZE = QSize(900, 700)


class _Column(QScrollArea):
    """A column that scrolls up and down, never sideways, and is never made narrower than
    what it holds needs (a splitter would cut its values off at the right edge)."""

    def __init__(self, widget: QWidget, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("record_left")
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setWidget(widget)

    def _room(self, width: int) -> QSize:
        bar = self.verticalScrollBar().sizeHint().width()
        return QSize(width + bar, super().minimumSizeHint().height())

    @override
    def minimumSizeHint(self) -> QSize:
        inner = self.widget()
        return self._room(inner.minimumSizeHint().width() if inner is not None else 0)

    @override
    def sizeHint(self) -> QSize:
        inner = self.widget()
        return self._room(inner.sizeHint().width() if inner is not None else 0)


class PatientRecordView(QWidget):
    """One patient's record.

    Signals:
        book_requested(int): the patient's id; the user asked to book a series.
        appointment_activated(int): an appointment's id; the user asked to open the session.
        loaded(): the record was read and laid out.
        problem(str): something the user should know went wrong (also shown in the view).
        trend_shown(): the trend of the chosen instrument was read and charted.
        calendar_exported(str): the calendar export ended: "" when written, else what went
            wrong (also shown).
        merged(int): this chart was merged into the chart with this id.
        make_up_requested(int): offer the make-up of this missed series appointment (a series
            at risk, as on the recall list's At risk tab).
        end_series_requested(int): the series' id; a prescriber asked to end it (End series…
            on its panel, or the panel's menu).
        change_protocol_requested(int): the series' id; a prescriber asked to change its
            protocol (Change protocol… on its panel, or the panel's menu).

    Attributes:
        record: the record shown (None until read).
        patient_id: whose record this is.
    """

    book_requested = Signal(int)
    appointment_activated = Signal(int)
    loaded = Signal()
    problem = Signal(str)
    trend_shown = Signal()
    calendar_exported = Signal(str)
    merged = Signal(int)
    make_up_requested = Signal(int)
    end_series_requested = Signal(int)
    change_protocol_requested = Signal(int)

    def __init__(self, desk: Desk, patient_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._desk = desk
        self.patient_id = patient_id
        self.record: PatientRecord | None = None
        #: The Make-up… button of each series at risk, by series id.
        self.make_up_buttons: dict[int, QPushButton] = {}
        #: The End series… button of each series still going on, by series id.
        self.end_buttons: dict[int, QPushButton] = {}
        self.change_buttons: dict[int, QPushButton] = {}
        self._call: BackgroundCall[PatientRecord] | None = None
        self._again = False  # reload() asked during a read: read again after it
        self._trends = LatestOnly(self, busy="Reading the trend…")
        # Whether the reader may see the clinical part (the services withhold it otherwise);
        # without it there is no Measures tab and no session record to print.
        self.clinical = may(desk.actor, "read_clinical")
        self.setObjectName("patient_record")
        self.setAccessibleName("Patient record")
        self.printer = DocumentPrinter(desk, self, show_problems=False)
        self.printer.problem.connect(self._on_printer_problem)

        self._build()
        self._connect()
        self.reload()

    # -- building ---------------------------------------------------------------------------

    def _build(self) -> None:
        header = self._build_header()
        left = self._build_left()
        right = self._build_right()
        body = QSplitter(Qt.Orientation.Horizontal, self)
        body.setObjectName("record_body")
        body.addWidget(left)
        body.addWidget(right)
        body.setStretchFactor(0, 2)
        body.setStretchFactor(1, 3)
        body.setSizes([440, 760])
        body.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        # Shown on its own (a window), a layout-driven minimum size would be pushed to the
        # platform window on every change, which the offscreen platform answers with a warning.
        layout.setSizeConstraint(QVBoxLayout.SizeConstraint.SetNoConstraint)
        layout.addLayout(header)
        layout.addWidget(self.message)
        layout.addWidget(body, 1)
        # A window of its own: closed by a button and by Esc, like the application's dialogs.
        self.close_buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.close_buttons.setObjectName("record_close")
        self.close_buttons.rejected.connect(self.close)
        self.close_buttons.setVisible(self.isWindow())
        layout.addWidget(self.close_buttons)
        for button in (self.open_button, self.record_button):
            button.setEnabled(False)

    def _build_header(self) -> QHBoxLayout:
        """The patient's name and summary, the message line, and the record's buttons."""
        self.name_label = QLabel("Loading…", self)
        self.name_label.setObjectName("patient_name")
        font = self.name_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.5)
        font.setBold(True)
        self.name_label.setFont(font)
        self.name_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.sub_label = QLabel(self)
        self.sub_label.setObjectName("patient_summary")
        self.message = QLabel(self)
        self.message.setObjectName("record_message")
        self.message.setWordWrap(True)
        self.message.setVisible(False)

        self.edit_button = self._button("&Edit…", "Edit the patient's details")
        self.book_button = self._button("&Book series…", "Book a series for this patient")
        self.card_button = self._button("Print &card…", "Preview the patient's appointment card")
        self.ics_button = self._button("E&xport calendar…", "Save upcoming sessions as .ics")
        self.merge_button = self._button(
            "&Merge into…", "Merge this chart into the patient's other chart (administrators)"
        )
        self.merge_button.setVisible(may(self._desk.actor, "merge_patients"))
        self.open_button = self._button("&Open session", "Open the selected session")
        self.record_button = self._button(
            "Print session &record…", "Preview the monitoring record of the selected session"
        )
        header = QHBoxLayout()
        names = QVBoxLayout()
        names.addWidget(self.name_label)
        names.addWidget(self.sub_label)
        header.addLayout(names, 1)
        for button in (
            self.edit_button,
            self.book_button,
            self.card_button,
            self.ics_button,
            self.merge_button,
        ):
            header.addWidget(button, 0, Qt.AlignmentFlag.AlignTop)
        return header

    def _build_left(self) -> QWidget:
        """Contact, gating, follow-ups."""
        self.contact_box = QGroupBox("Contact", self)
        self.contact_form = QFormLayout(self.contact_box)
        self.gating_box = QGroupBox("Gating", self)
        self.gating_form = QFormLayout(self.gating_box)
        self.gate_problems: QLabel | None = None
        self.follow_ups = self._tree(("Due", "Follow-up", "Session"), "Open follow-ups")
        follow_box = QGroupBox("Open follow-ups", self)
        QVBoxLayout(follow_box).addWidget(self.follow_ups)
        self.days_away = DaysAwayBox(self._desk, self.patient_id, self)
        self.follow_ups.setMinimumHeight(90)
        left = QWidget(self)
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.contact_box)
        left_layout.addWidget(self.gating_box)
        left_layout.addWidget(self.days_away)
        left_layout.addWidget(follow_box, 1)
        # The column scrolls rather than squeezing its boxes: a patient with long gating
        # values (prior authorization, "Other flags" such as BP limits) wrapped onto two
        # lines, and at the default window size each wrapped line was cut to half its height.
        self.left_column = _Column(left, self)
        return self.left_column

    def _build_right(self) -> QWidget:
        """The series, then the upcoming and past sessions and the measures, in tabs."""
        self.series_box = QGroupBox("Series", self)
        self.series_layout = QVBoxLayout(self.series_box)
        series_scroll = QScrollArea(self)
        series_scroll.setWidgetResizable(True)
        series_scroll.setFrameShape(QFrame.Shape.NoFrame)
        series_scroll.setWidget(self.series_box)
        series_scroll.setMinimumHeight(160)

        self.upcoming = self._tree(SESSION_COLUMNS, "Upcoming sessions")
        self.history = self._tree(SESSION_COLUMNS, "Past sessions")
        measures_page = self._build_measures_page()

        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("record_tabs")
        self.tabs.setAccessibleName("Sessions and measures")
        self.tabs.addTab(self.upcoming, "Upcoming")
        self.tabs.addTab(self.history, "History")
        if self.clinical:
            self.tabs.addTab(measures_page, "Measures")
        else:  # the page stays out of sight (it would float over the header otherwise)
            measures_page.setVisible(False)
            self.record_button.setVisible(False)
        session_buttons = QHBoxLayout()
        session_buttons.addStretch(1)
        session_buttons.addWidget(self.record_button)
        session_buttons.addWidget(self.open_button)

        right = QWidget(self)
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(series_scroll, 1)
        right_layout.addWidget(self.tabs, 2)
        right_layout.addLayout(session_buttons)
        return right

    def _build_measures_page(self) -> QWidget:
        """Recent outcome measures beside the trend of the one chosen."""
        self.measures = self._tree(("Date", "Measure", "Score"), "Recent outcome measures")
        self.instrument_box = QComboBox(self)
        self.instrument_box.setAccessibleName("Measure shown in the trend")
        self.trend_area = QWidget(self)
        self.trend_area.setObjectName("trend_area")
        self.trend_area.setMinimumHeight(140)
        trend_layout = QVBoxLayout(self.trend_area)
        trend_layout.setContentsMargins(0, 0, 0, 0)
        self.trend_chart = TrendChart(self.trend_area)
        trend_layout.addWidget(self.trend_chart)
        measures_page = QWidget(self)
        measures_layout = QVBoxLayout(measures_page)
        measures_top = QHBoxLayout()
        measures_top.addWidget(QLabel("Trend of", measures_page))
        measures_top.addWidget(self.instrument_box)
        measures_top.addStretch(1)
        measures_layout.addLayout(measures_top)
        split = QSplitter(Qt.Orientation.Horizontal, measures_page)
        split.addWidget(self.measures)
        split.addWidget(self.trend_area)
        split.setStretchFactor(1, 2)
        measures_layout.addWidget(split, 1)
        return measures_page

    def _button(self, text: str, name: str) -> QPushButton:
        button = QPushButton(text, self)
        button.setAccessibleName(name)
        button.setToolTip(name)
        button.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        return button

    def _tree(self, columns: tuple[str, ...], name: str) -> QTreeWidget:
        tree = QTreeWidget(self)
        tree.setAccessibleName(name)
        tree.setColumnCount(len(columns))
        tree.setHeaderLabels(list(columns))
        tree.setRootIsDecorated(False)
        tree.setUniformRowHeights(True)
        tree.setAlternatingRowColors(True)
        tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        tree.header().setStretchLastSection(True)
        tree.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        return tree

    def _connect(self) -> None:
        self.edit_button.clicked.connect(self._on_edit_button_clicked)
        self.book_button.clicked.connect(self._on_book_button_clicked)
        self.card_button.clicked.connect(self._on_card_button_clicked)
        self.ics_button.clicked.connect(self._on_ics_button_clicked)
        self.merge_button.clicked.connect(self._on_merge_button_clicked)
        self.open_button.clicked.connect(self._on_open_button_clicked)
        self.record_button.clicked.connect(self._on_record_button_clicked)
        for tree in (self.upcoming, self.history):
            tree.itemActivated.connect(self._on_session_item_activated)
            tree.itemSelectionChanged.connect(self._on_session_selection_changed)
        self.tabs.currentChanged.connect(self._on_session_selection_changed)
        self.instrument_box.currentTextChanged.connect(self._on_instrument_box_changed)
        self.days_away.appointment_activated.connect(self.appointment_activated)
        self.days_away.changed.connect(self.reload)
        reload = QShortcut(QKeySequence(QKeySequence.StandardKey.Refresh), self)
        reload.activated.connect(self.reload)

    @override
    def keyPressEvent(self, event: QKeyEvent) -> None:
        # Esc that no field used (a date being typed takes its own back first) closes the
        # window, as it does a dialog.
        if event.key() == Qt.Key.Key_Escape and self.isWindow():
            self.close()
            return
        super().keyPressEvent(event)

    # -- reading ----------------------------------------------------------------------------

    def reload(self) -> None:
        """Read the record again (on a worker thread) and show it; asked while a read is
        under way, once more after it (that read may have begun before the change)."""
        if self._call is not None:
            self._again = True
            return
        db, actor, patient_id, now = (
            self._desk.db,
            self._desk.actor,
            self.patient_id,
            self._desk.now(),
        )
        call: BackgroundCall[PatientRecord] = BackgroundCall(
            lambda: patient_record(db, actor, patient_id, now=now), self
        )
        call.succeeded.connect(self._on_call_succeeded)
        call.failed.connect(self._on_call_failed)
        self._call = call
        self.setCursor(Qt.CursorShape.BusyCursor)
        call.start()
        self.days_away.reload()

    def _finish_call(self) -> None:
        if self._call is not None:
            self._call.deleteLater()
        self._call = None
        self.unsetCursor()

    def _on_call_succeeded(self, record: object) -> None:
        self._finish_call()
        assert isinstance(record, PatientRecord)
        self.show_record(record)
        self.loaded.emit()
        if self._again:
            self._again = False
            self.reload()

    def _on_call_failed(self, error: object) -> None:
        self._finish_call()
        self._say(f"The record could not be read: {error}")

    # -- showing ----------------------------------------------------------------------------

    def show_record(self, record: PatientRecord) -> None:
        self.record = record
        p = record.patient
        if p.merged_into_chart:
            state = f" (merged into chart {p.merged_into_chart})"
        else:
            state = "" if p.active else " (inactive)"
        self.name_label.setText(p.display_name + state)
        bits = [f"Chart {p.chart_number}"]
        if p.preferred_name:
            bits.append(f"prefers “{p.preferred_name}”")
        if p.date_of_birth is not None:
            age = p.age_on(record.as_of.date())
            bits.append(f"born {short_date(p.date_of_birth, year=True, weekday=False)} ({age})")
        self.sub_label.setText(" · ".join(bits))
        self.setWindowTitle(f"{p.display_name} — patient record")
        self._show_contact(record)
        self._show_gating(record)
        self.left_column.updateGeometry()  # what it holds may need more width now
        self._show_series(record)
        self._fill_sessions(self.upcoming, record.upcoming, record.time_format)
        self._fill_sessions(self.history, record.history, record.time_format)
        self.tabs.setTabText(0, f"Upcoming ({len(record.upcoming)})")
        self.tabs.setTabText(1, f"History ({len(record.history)})")
        self._show_follow_ups(record)
        self._show_measures(record)
        self.card_button.setEnabled(bool(record.upcoming))
        self.ics_button.setEnabled(bool(record.upcoming))
        self._on_session_selection_changed()

    def _show_contact(self, record: PatientRecord) -> None:
        p = record.patient
        _clear_form(self.contact_form)
        for label, value in (
            ("Phone", display_phone(p.phone)),
            ("Email", p.email),
            ("Address", p.address),
            ("Emergency", p.emergency_contact),
            ("Notes", p.notes),
        ):
            self.contact_form.addRow(f"{label}:", self._value_label(value or "—"))

    def _show_gating(self, record: PatientRecord) -> None:
        _clear_form(self.gating_form)
        dark = is_dark(self.palette())
        muted = self._muted()
        for fact in record.gating:
            value = self._value_label(fact.value)
            if fact.ok is True:
                mark, color = "✓", QColor(OK_COLORS[dark])
            elif fact.ok is False:
                mark, color = "✗", QColor(WRONG_COLORS[dark])
            else:
                mark, color = "–", muted
            value.setText(f"{mark} {fact.value}")
            value.setAccessibleName(
                f"{fact.label}: {fact.value}"
                + {True: " (in order)", False: " (missing)", None: ""}[fact.ok]
            )
            _set_text_color(value, color)
            self.gating_form.addRow(f"{fact.label}:", value)
        if record.contraindications:
            self.gating_form.addRow("Flags:", self._value_label(record.contraindications))
        if record.withheld:
            withheld = self._value_label(record.withheld)
            withheld.setObjectName("clinical_withheld")
            _set_text_color(withheld, muted)
            self.gating_form.addRow(withheld)
        self.gate_problems = None
        if record.gate_problems:
            problems = QLabel(
                "Before the next dosing session: " + "; ".join(record.gate_problems) + ".",
                self.gating_box,
            )
            problems.setObjectName("gate_problems")
            problems.setWordWrap(True)
            _set_text_color(problems, QColor(WRONG_COLORS[dark]))
            self.gating_form.addRow(problems)
            self.gate_problems = problems

    def _muted(self) -> QColor:
        """Text for what no longer counts (a cancelled session), readable on light and dark."""
        palette = self.palette()
        return mix(
            palette.color(QPalette.ColorRole.Text), palette.color(QPalette.ColorRole.Base), 0.55
        )

    def _value_label(self, text: str) -> QLabel:
        label = QLabel(text, self)
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        return label

    def _show_series(self, record: PatientRecord) -> None:
        while self.series_layout.count():
            item = self.series_layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self.make_up_buttons = {}
        self.end_buttons = {}
        self.change_buttons = {}
        if not record.series:
            self.series_layout.addWidget(QLabel("No series yet.", self.series_box))
        for progress in record.series:
            panel = self._series_panel(progress)
            risk = record.at_risk_of(progress.series_id)
            layout = panel.layout()
            if risk is not None and layout is not None:
                layout.addWidget(self._at_risk_part(risk, panel))
            if layout is not None and progress.status in ENDABLE:
                layout.addWidget(self._end_part(progress, record.end_series_refusal, panel))
                self._add_change_button(progress, record.change_protocol_refusal, panel)
            self.series_layout.addWidget(panel)
        self.series_layout.addStretch(1)
        at_risk = f", {len(record.at_risk)} at risk" if record.at_risk else ""
        self.series_box.setTitle(f"Series ({len(record.series)}{at_risk})")

    def _at_risk_part(self, risk: AtRiskRow, panel: QWidget) -> QWidget:
        """What was missed, the outreach call's countdown, and the make-up of the earliest
        miss (the recall list's At risk tab, for this series)."""
        part = QWidget(panel)
        part.setObjectName(f"at_risk_{risk.series_id}")
        row = QHBoxLayout(part)
        row.setContentsMargins(0, 0, 0, 0)
        text = QLabel(
            f"⚠ At risk: {risk.missed_text}. Outreach call {risk.outreach}.",
            part,
        )
        text.setObjectName("series_at_risk")
        text.setWordWrap(True)
        text.setAccessibleName(f"Series at risk: {risk.missed_text}; outreach call {risk.outreach}")
        _set_text_color(text, QColor(WRONG_COLORS[is_dark(self.palette())]))
        row.addWidget(text, 1)
        button = QPushButton("Make-up…", part)
        button.setObjectName(f"make_up_{risk.make_up_for}")
        button.setAccessibleName("Offer the make-up of the missed session")
        button.setToolTip("Offer a make-up for the earliest miss (the series re-flowed)")
        button.setEnabled(may(self._desk.actor, "book"))
        button.clicked.connect(
            lambda _checked=False, aid=risk.make_up_for: self.make_up_requested.emit(aid)
        )
        row.addWidget(button, 0, Qt.AlignmentFlag.AlignTop)
        self.make_up_buttons[risk.series_id] = button
        return part

    def _end_part(self, s: SeriesProgress, refusal: str, panel: QWidget) -> QWidget:
        """End series… for a series still going on, on the panel and in its menu; greyed with
        who may for a role the clinic does not let end one."""
        part = QWidget(panel)
        row = QHBoxLayout(part)
        row.setContentsMargins(0, 0, 0, 0)
        row.addStretch(1)
        button = QPushButton("End series…", part)
        button.setObjectName(f"end_series_{s.series_id}")
        button.setAccessibleName(f"End the {s.protocol_name} series")
        button.setToolTip(refusal or "Stop this series: cancel its sessions from a day on")
        button.setEnabled(not refusal)
        button.clicked.connect(
            lambda _checked=False, sid=s.series_id: self.end_series_requested.emit(sid)
        )
        row.addWidget(button)
        self.end_buttons[s.series_id] = button
        action = QAction("End series…", panel)
        action.setEnabled(not refusal)
        action.setToolTip(button.toolTip())
        action.triggered.connect(button.click)
        panel.addAction(action)
        panel.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        return part

    def _add_change_button(self, s: SeriesProgress, refusal: str, panel: QWidget) -> None:
        """Change protocol… beside End series… (the same roles), and in the panel's menu."""
        end = self.end_buttons.get(s.series_id)
        parent = end.parentWidget() if end is not None else None
        row = parent.layout() if parent is not None else None
        if parent is None or not isinstance(row, QHBoxLayout):
            return
        button = QPushButton("Change protocol…", parent)
        button.setObjectName(f"change_protocol_{s.series_id}")
        button.setAccessibleName(f"Change the protocol of the {s.protocol_name} series")
        button.setToolTip(
            refusal or "End this series and book another protocol after it, in one step"
        )
        button.setEnabled(not refusal)
        button.clicked.connect(
            lambda _checked=False, sid=s.series_id: self.change_protocol_requested.emit(sid)
        )
        row.insertWidget(row.count() - 1, button)
        self.change_buttons[s.series_id] = button
        action = QAction("Change protocol…", panel)
        action.setEnabled(not refusal)
        action.setToolTip(button.toolTip())
        action.triggered.connect(button.click)
        panel.addAction(action)

    def _series_panel(self, s: SeriesProgress) -> QWidget:
        panel = QFrame(self.series_box)
        panel.setObjectName(f"series_{s.series_id}")
        panel.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QVBoxLayout(panel)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.setSpacing(3)
        title = QLabel(f"<b>{html.escape(s.protocol_name)}</b> · {s.status_label}", panel)
        layout.addWidget(title)
        row = QHBoxLayout()
        bar = QProgressBar(panel)
        bar.setRange(0, max(1, s.planned_count))
        bar.setValue(min(s.done, s.planned_count))
        bar.setFormat(f"{s.done}/{s.planned_count}")
        bar.setMaximumWidth(160)
        bar.setAccessibleName(f"{s.protocol_name}: {s.summary}")
        row.addWidget(bar)
        summary = QLabel(s.summary, panel)
        summary.setObjectName("series_summary")
        summary.setWordWrap(True)
        row.addWidget(summary, 1)
        layout.addLayout(row)
        # A change of protocol, said on both series (services/booking/protocol_change.py).
        for name, text in (
            ("series_changed_from", s.changed_from),
            ("series_changed_to", s.changed_to),
        ):
            if text:
                link = QLabel(text, panel)
                link.setObjectName(name)
                link.setWordWrap(True)
                layout.addWidget(link)
        if s.gaps:
            dark = is_dark(self.palette())
            outside = s.gaps_outside_rule
            within = [g for g in s.gaps if g.within_rule]
            for gap in outside:
                warn = QLabel(f"⚠ {gap.description}", panel)
                warn.setObjectName("series_gap_outside")
                warn.setWordWrap(True)
                _set_text_color(warn, QColor(WRONG_COLORS[dark]))
                layout.addWidget(warn)
            text = ""
            if within:
                days = sorted({g.days for g in within})
                span = f"{days[0]}" if len(days) == 1 else f"{days[0]}–{days[-1]}"
                # Under a gap outside the rule, "the gaps are within the protocol" would
                # contradict it (a user trial read the two one above the other).
                n = len(within)
                which = f"The other {'gap' if n == 1 else f'{n} gaps'}" if outside else "Gaps"
                text = f"{which}: {span} days, within the protocol"
            gaps = QLabel(text, panel)
            gaps.setObjectName("series_gaps")
            gaps.setWordWrap(True)
            layout.addWidget(gaps)
            if not text:
                gaps.setVisible(False)
        return panel

    def _fill_sessions(
        self, tree: QTreeWidget, sessions: tuple[RecordSession, ...], time_format: str
    ) -> None:
        tree.clear()
        muted = self._muted()
        items = []
        for s in sessions:
            item = QTreeWidgetItem(session_row(s, time_format))
            item.setData(0, APPOINTMENT_ROLE, s.appointment_id)
            item.setData(1, APPOINTMENT_ROLE, s.dosing)
            item.setForeground(2, QColor(s.color))
            if not s.is_active:
                for column in range(len(SESSION_COLUMNS)):
                    item.setForeground(column, muted)
                font = item.font(5)
                font.setItalic(True)
                item.setFont(5, font)
            items.append(item)
        tree.addTopLevelItems(items)

    def _show_follow_ups(self, record: PatientRecord) -> None:
        self.follow_ups.clear()
        dark = is_dark(self.palette())
        for f in record.follow_ups:
            item = QTreeWidgetItem(
                [
                    (f.when or short_date(f.due)) + (" (overdue)" if f.overdue else ""),
                    f.kind_label + ("" if f.priority == "normal" else f" ({f.priority})"),
                    f.session or "—",
                ]
            )
            item.setData(0, APPOINTMENT_ROLE, f.id)
            who = role_name(f.assignee_role)
            for column in range(3):
                item.setToolTip(column, f"{f.kind_label}, for the {who}; {f.session}".rstrip("; "))
            if f.overdue or f.priority != "normal":
                for column in range(3):
                    item.setForeground(column, QColor(WRONG_COLORS[dark]))
            self.follow_ups.addTopLevelItem(item)
        if not record.follow_ups:
            self.follow_ups.addTopLevelItem(QTreeWidgetItem(["", "Nothing open", ""]))

    def _show_measures(self, record: PatientRecord) -> None:
        self.measures.clear()
        if not record.clinical:
            return
        for m in record.measures:
            self.measures.addTopLevelItem(
                QTreeWidgetItem(
                    [
                        short_date(m.taken_at, year=True, weekday=False),
                        _measure_name(m.instrument),
                        str(m.score),
                    ]
                )
            )
        self.instrument_box.blockSignals(True)
        current = self.instrument_box.currentData()
        self.instrument_box.clear()
        for code in record.instruments:
            self.instrument_box.addItem(_measure_name(code), code)
        if current:
            self.instrument_box.setCurrentIndex(max(0, self.instrument_box.findData(current)))
        self.instrument_box.blockSignals(False)
        self.instrument_box.setEnabled(bool(record.instruments))
        self._show_trend()

    def _show_trend(self) -> None:
        code = self.instrument_box.currentData()
        if not code:
            self.trend_chart.set_trend(None)
            return
        db, actor, patient_id = self._desk.db, self._desk.actor, self.patient_id

        def shown(trend: MeasureTrend) -> None:
            self.trend_chart.set_trend(trend)
            self.trend_shown.emit()

        def refused(err: ServiceError) -> None:  # an instrument the clinic no longer has
            self.trend_chart.set_trend(None)
            self._say(f"No trend for {_measure_name(code)}: {err}")

        # The record's own "view" event covers its measures and their trend.
        self._trends.run(
            lambda: measure_trend(db, actor, patient_id, code, record_view=False),
            shown,
            failed=refused,
        )

    # -- acting -----------------------------------------------------------------------------

    def selected_session(self) -> tuple[int, bool] | None:
        """The selected session of the tab shown: (appointment id, is a dosing session)."""
        tree = self.tabs.currentWidget()
        if not isinstance(tree, QTreeWidget):
            return None
        items = tree.selectedItems()
        if not items:
            return None
        return int(items[0].data(0, APPOINTMENT_ROLE)), bool(items[0].data(1, APPOINTMENT_ROLE))

    def export_calendar(self, path: Path | None = None) -> None:
        """Save the patient's upcoming sessions as an .ics file (asking where when ``path`` is
        None), read and written on a worker; ``calendar_exported`` says how it went."""
        if self.record is None:
            return
        chart = self.record.patient.chart_number
        upcoming = len(self.record.upcoming)
        if path is None:
            name, _filter = QFileDialog.getSaveFileName(
                self, "Export calendar", f"{chart}.ics", "iCalendar files (*.ics)"
            )
            if not name:
                return
            path = Path(name)
        from ketadesk.services.printing.layout import output_problem

        problem = output_problem(path)
        if problem is not None:
            self._on_calendar_not_exported(problem)
            return
        target, db, now = path, self._desk.db, self._desk.now()

        def work() -> None:
            try:
                target.write_bytes(patient_calendar(db, chart, now=now))
            except OSError as err:
                raise ServiceError(f"cannot write {target}: {err.strerror or err}") from err

        def written(_none: None) -> None:
            self._say(f"Saved {upcoming} upcoming sessions to {target}.", error=False)
            self.calendar_exported.emit("")

        def refused(err: ServiceError) -> None:  # a refusal, said as it is
            self._on_calendar_not_exported(str(err))

        run_service(self, work, written, failed=refused, busy="Exporting the calendar…")

    def _on_calendar_not_exported(self, problem: str) -> None:
        self._say(f"The calendar was not exported: {problem}.")
        self.calendar_exported.emit(problem)

    @classmethod
    def edit_dialog(
        cls,
        desk: Desk,
        patient_id: int,
        parent: QWidget,
        then: Callable[[PatientFormDialog], None],
    ) -> None:
        """Open the dialog that edits the patient once their details are read (an entry point
        tests can replace)."""
        PatientFormDialog.open_for(desk, patient_id, parent, then)

    def _say(self, text: str, *, error: bool = True) -> None:
        self.message.setText(text)
        self.message.setVisible(True)
        dark = is_dark(self.palette())
        color = QColor(WRONG_COLORS[dark]) if error else QColor(OK_COLORS[dark])
        _set_text_color(self.message, color)
        if error:
            self.problem.emit(text)

    def _on_edit_button_clicked(self) -> None:
        self.edit_dialog(self._desk, self.patient_id, self, self._show_edit_dialog)

    def _show_edit_dialog(self, dialog: PatientFormDialog) -> None:
        dialog.saved.connect(self._on_dialog_saved)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    def _on_dialog_saved(self, _patient_id: int) -> None:
        self.reload()

    def _on_merge_button_clicked(self) -> None:
        dialog = MergePatientsDialog(self._desk, self.patient_id, self)
        dialog.merged.connect(self._on_dialog_merged)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    def _on_dialog_merged(self, kept_id: int) -> None:
        self.merged.emit(kept_id)
        self.reload()

    def _on_book_button_clicked(self) -> None:
        self.book_requested.emit(self.patient_id)

    def _on_card_button_clicked(self) -> None:
        if self.record is not None:
            self.printer.appointment_card(self.record.patient.chart_number)

    def _on_ics_button_clicked(self) -> None:
        self.export_calendar()

    def _on_open_button_clicked(self) -> None:
        chosen = self.selected_session()
        if chosen is not None:
            self.appointment_activated.emit(chosen[0])

    def _on_record_button_clicked(self) -> None:
        chosen = self.selected_session()
        if chosen is not None and chosen[1]:
            self.printer.session_record(chosen[0])

    def _on_session_item_activated(self, item: QTreeWidgetItem, _column: int) -> None:
        self.appointment_activated.emit(int(item.data(0, APPOINTMENT_ROLE)))

    def _on_session_selection_changed(self, *_args: object) -> None:
        chosen = self.selected_session()
        self.open_button.setEnabled(chosen is not None)
        self.record_button.setEnabled(chosen is not None and chosen[1])

    def _on_instrument_box_changed(self, _text: str) -> None:
        self._show_trend()

    def _on_printer_problem(self, message: str) -> None:
        self._say(message)


def _measure_name(code: str) -> str:
    """ "phq9" -> "PHQ-9" (the configured instrument's name)."""
    spec = instruments().get(code)
    return spec.name if spec is not None else code.upper()


def _clear_form(form: QFormLayout) -> None:
    while form.rowCount():
        form.removeRow(0)


def _set_text_color(label: QLabel, color: QColor) -> None:
    palette = label.palette()
    palette.setColor(QPalette.ColorRole.WindowText, color)
    label.setPalette(palette)
