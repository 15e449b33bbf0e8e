"""The date, time and date-and-time fields of every form: typed like a text field.

Qt's date and time editors type into one section at a time: after Ctrl+A, "10:30" typed into a
time showing 09:00 gave 09:30 (the hour took "1", the minutes "30"), and "12/12/2026" typed into
a date gave 12/2/2026 or nothing at all (a month shown as "Dec" takes no digits).  These fields
keep Qt's editor (the arrows step the section under the cursor, the calendar pops up, the value
API is QDateEdit's) but a typed character edits the text as a line edit would, replacing the
selection; what was typed is read when the field is left or Enter is pressed, month first as a
US clinic writes dates (``scheduling.dates.parse_us_date``), and shown back in the one format
of all the application's fields.  Times are shown in the clinic's format (``[clinic]
time_format``, ``set_time_format``: "9:30 AM" or "09:30") and typed either way ("2:30 pm",
"14:30", "230p", "1430", ``scheduling.dates.parse_clock_time``).  Text that is no date or time
goes back to the value before, and the field says so (``refused``, for the form to show:
"“13/45” is not a date: type it month first, as 12/15 or 12/15/2026"); Enter on it accepts
nothing.

A field told to ``read_while_typing`` takes each whole date or time as it is typed (the text
stays as typed; its value, and the value's signal, follow), so a form that judges the value at
once (the Move dialog's verdict) judges what the user sees: with the value read only on leaving
the field, the click on the dialog's button that left it found the button greyed by the new
value's check, and the move did not happen (a user trial: Ctrl+A, a new date typed, "nothing
changed").
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, TypeVar

from PySide6.QtCore import QDate, QDateTime, QEvent, QLocale, Qt, QTime, QTimer, Signal
from PySide6.QtGui import QFocusEvent, QGuiApplication, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDateEdit,
    QDateTimeEdit,
    QTimeEdit,
    QWidget,
)

from ketadesk.scheduling.dates import parse_clock_time, parse_date_time, parse_us_date

if TYPE_CHECKING:
    from typing_extensions import override
else:  # typing.override is Python 3.12+; the decorator only informs the type checker.
    _F = TypeVar("_F")

    def override(method: _F) -> _F:
        return method


#: The formats of every field: US month/day/year with two-digit month and day, and the time
#: in each of the clinic's formats (``scheduling.dates.TIME_FORMATS``), as ``dates.clock``
#: says it: "9:30 AM" or "09:30".
DATE_FORMAT = "MM/dd/yyyy"
#: With the weekday, where the day of the week is what the user checks (the toolbar's day).
DATE_FORMAT_WEEKDAY = "ddd MM/dd/yyyy"
TIME_FORMATS = {"12h": "h:mm AP", "24h": "HH:mm"}
#: The fields speak US English whatever this PC's locale ("AM", "Sat"), as every view does.
_US = QLocale(QLocale.Language.English, QLocale.Country.UnitedStates)

#: Keys that step the value (Qt's own behaviour, after what was typed is read).
_STEP_KEYS = frozenset({Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_PageUp, Qt.Key.Key_PageDown})
#: Keys that only move the cursor while typing (no section jumps on half-typed text).
_CURSOR_KEYS = frozenset({Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_Home, Qt.Key.Key_End})
_COMMIT_KEYS = frozenset({Qt.Key.Key_Return, Qt.Key.Key_Enter})
_TEXT_MODIFIERS = Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.KeypadModifier


# The mixin is typed as the editor it is mixed into (a class with two Qt bases is not one).
if TYPE_CHECKING:
    _Editor = QDateTimeEdit
else:
    _Editor = object


class _TypedField(_Editor):
    """What the three fields share: typing edits the text; leaving or Enter reads it.

    Mixed in before a Qt date/time editor; subclasses say how text is read (``_read``) into
    a QDateTime, None when it is not one.
    """

    def _read(self, text: str) -> QDateTime | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def problem_words(self, text: str) -> str:  # pragma: no cover - abstract
        """What is wrong with ``text``, said to the user ("“13/45” is not a date: …")."""
        raise NotImplementedError

    def _said_refused(self, words: str) -> None:  # pragma: no cover - abstract
        """Emit the field's ``refused`` signal (declared on each field: a mixin has none)."""
        raise NotImplementedError

    #: Whether each whole date or time typed is read at once (``read_while_typing``).
    _live = False

    def read_while_typing(self, live: bool = True) -> None:
        """Read each whole date or time into the value as it is typed, the text left as typed
        (the value's signal follows the typing); text that is no date or time yet waits for
        more typing, and is refused, saying why, when the field is left."""
        self._live = live

    # -- typing -----------------------------------------------------------------------------

    def is_typing(self) -> bool:
        """Whether the text differs from the value shown (typed, not yet read)."""
        return self.lineEdit().text() != self.textFromDateTime(self.dateTime())

    def commit(self) -> bool:
        """Read what was typed into the value (as leaving the field does); False when it was
        no date or time, and the value before is shown again."""
        if not self.is_typing():
            return True
        text = self.lineEdit().text()
        value = self._read(text)
        ok = value is not None and self.minimumDateTime() <= value <= self.maximumDateTime()
        if ok:
            assert value is not None
            self.setDateTime(value)
        else:
            QApplication.beep()
            self._refuse(text, value)
        self._show_value()
        return ok

    def typed_problem(self) -> str:
        """What is wrong with the text typed and not yet read ("" when it reads, or nothing is
        being typed)."""
        if not self.is_typing():
            return ""
        text = self.lineEdit().text()
        value = self._read(text)
        if value is not None and self.minimumDateTime() <= value <= self.maximumDateTime():
            return ""
        return self._problem(text, value)

    def _problem(self, text: str, value: QDateTime | None) -> str:
        if value is None or not text.strip():
            return self.problem_words(text)
        low = self.minimumDateTime()
        if value < low:
            return f"“{text.strip()}” is before {self.textFromDateTime(low)}, the earliest here"
        return f"“{text.strip()}” is after {self.textFromDateTime(self.maximumDateTime())}"

    def _refuse(self, text: str, value: QDateTime | None) -> None:
        """Say why typed text was not taken: the field's signal, for the form to say where it
        says its other messages."""
        self._said_refused(self._problem(text, value))

    def _read_live(self) -> None:
        """``read_while_typing``: a whole date or time typed is the value now, the text and
        the cursor left as typed."""
        if not self._live or not self.is_typing():
            return
        line = self.lineEdit()
        text, cursor = line.text(), line.cursorPosition()
        value = self._read(text)
        if value is None or not self.minimumDateTime() <= value <= self.maximumDateTime():
            return
        if value != self.dateTime():
            self.setDateTime(value)
            self._set_text(text, cursor=cursor)

    def _show_value(self) -> None:
        """Put the value back in the text in the field's format (also when unchanged)."""
        self._set_text(self.textFromDateTime(self.dateTime()), select_all=False)

    def _set_text(self, text: str, *, cursor: int | None = None, select_all: bool = False) -> None:
        """Change the line edit's text without Qt's section logic (which parses every change
        as it goes) seeing it."""
        line = self.lineEdit()
        blocked = line.blockSignals(True)
        # Even setText asks the line edit's validator, which is Qt's section parser: it would
        # turn a half-typed "9:" into "09:".
        validator = line.validator()
        line.setValidator(None)  # type: ignore[arg-type]  # Qt takes None: no validator
        try:
            line.setText(text)
            if select_all:
                line.selectAll()
            else:
                line.setCursorPosition(len(text) if cursor is None else cursor)
        finally:
            line.setValidator(validator)
            line.blockSignals(blocked)
        self.update()

    def _type(self, typed: str) -> None:
        """Insert ``typed`` at the cursor, replacing the selection, as a line edit does."""
        line = self.lineEdit()
        text = line.text()
        if line.hasSelectedText():
            start = line.selectionStart()
            end = start + len(line.selectedText())
        else:
            start = end = line.cursorPosition()
        self._set_text(text[:start] + typed + text[end:], cursor=start + len(typed))
        self._read_live()

    def _erase(self, forward: bool) -> None:
        line = self.lineEdit()
        text = line.text()
        if line.hasSelectedText():
            start = line.selectionStart()
            end = start + len(line.selectedText())
        else:
            position = line.cursorPosition()
            start, end = (position, position + 1) if forward else (max(0, position - 1), position)
        self._set_text(text[:start] + text[end:], cursor=start)
        self._read_live()

    def _move_cursor(self, event: QKeyEvent) -> None:
        line = self.lineEdit()
        blocked = line.blockSignals(True)
        try:
            QApplication.sendEvent(line, event)
        finally:
            line.blockSignals(blocked)

    # -- events -----------------------------------------------------------------------------

    @override
    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = Qt.Key(event.key())
        text = event.text()
        plain = not (event.modifiers() & ~_TEXT_MODIFIERS)
        if event.matches(QKeySequence.StandardKey.Paste):
            self._type(" ".join(QGuiApplication.clipboard().text().split()))
            return
        if plain and text and text.isprintable():
            self._type(text)
            return
        if plain and key in (Qt.Key.Key_Backspace, Qt.Key.Key_Delete):
            self._erase(forward=key == Qt.Key.Key_Delete)
            return
        if key == Qt.Key.Key_Escape and self.is_typing():
            self._show_value()
            return
        if key in _CURSOR_KEYS and self.is_typing():
            self._move_cursor(event)
            return
        if key in _STEP_KEYS or key in _COMMIT_KEYS:
            read = self.commit()
            if not read and key in _COMMIT_KEYS:
                # Refused, and said: Enter neither reads the old value again (which would
                # tell the form the value was chosen) nor accepts the dialog.
                return
        super().keyPressEvent(event)

    @override
    def focusInEvent(self, event: QFocusEvent) -> None:
        super().focusInEvent(event)
        if event.reason() in (
            Qt.FocusReason.TabFocusReason,
            Qt.FocusReason.BacktabFocusReason,
            Qt.FocusReason.ShortcutFocusReason,
        ):
            # Tabbed into, a field is replaced by what is typed, as a text field is.
            self.selectAll()
        elif event.reason() != Qt.FocusReason.PopupFocusReason:
            # Clicked into (or given the focus by its window), the same: Qt's own focus
            # selects one section, and a click's press places the cursor after this (the Days
            # away trial: "12/21/2026" typed at it read "12/07/12/21/20262026", no date, and
            # the value stayed).  So select once the press is handled; a second click, the
            # field already focused, places the cursor to edit in place.  Back from the
            # calendar (a popup), the field is left as it was.
            QTimer.singleShot(0, self, self._select_after_click)

    def _select_after_click(self) -> None:
        line = self.lineEdit()
        if self.hasFocus() and not self.is_typing():
            line.selectAll()

    @override
    def focusOutEvent(self, event: QFocusEvent) -> None:
        self.commit()
        super().focusOutEvent(event)

    @override
    def event(self, event: QEvent) -> bool:
        # A shortcut of the dialog (Alt+S for Save) reads the field as leaving it would.
        if event.type() == QEvent.Type.ShortcutOverride:
            key_event = event if isinstance(event, QKeyEvent) else None
            if key_event is not None and key_event.modifiers() & Qt.KeyboardModifier.AltModifier:
                self.commit()
        return super().event(event)


class DateField(_TypedField, QDateEdit):
    """A date typed month first (12/12/2026, 12/2/26, Dec 12, 2026) or picked on the calendar.

    ``weekday`` shows the day of the week before the date ("Sat 12/12/2026").

    Signals:
        refused(str): typed text was not a date (or out of range) when read, why in words.
    """

    refused = Signal(str)

    def __init__(
        self, parent: QWidget | None = None, *, value: dt.date | None = None, weekday: bool = False
    ) -> None:
        QDateEdit.__init__(self, parent)
        self.setCalendarPopup(True)
        self.setDisplayFormat(DATE_FORMAT_WEEKDAY if weekday else DATE_FORMAT)
        if value is not None:
            self.setDate(QDate(value.year, value.month, value.day))

    @override
    def _read(self, text: str) -> QDateTime | None:
        day = _typed_day(text, self.date())
        return _moved(self.dateTime(), day=day) if day is not None else None

    @override
    def problem_words(self, text: str) -> str:
        return _date_problem(text)

    @override
    def _said_refused(self, words: str) -> None:
        self.refused.emit(words)


class TimeField(_TypedField, QTimeEdit):
    """A time of day typed as 10:30, 1030, 9, 14:30, 2:30 pm or 230p, shown in the clinic's
    format (``time_format``, "12h" until told: ``set_time_format``).

    Signals:
        refused(str): typed text was not a time when read, why in words.
    """

    refused = Signal(str)

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        value: dt.time | None = None,
        time_format: str = "12h",
    ) -> None:
        QTimeEdit.__init__(self, parent)
        self.setLocale(_US)
        self.set_time_format(time_format)
        if value is not None:
            self.setTime(QTime(value.hour, value.minute))

    def set_time_format(self, fmt: str) -> None:
        """Show the time as the clinic reads it ("12h" or "24h"); the value stays."""
        self.setDisplayFormat(TIME_FORMATS[fmt])

    @override
    def _read(self, text: str) -> QDateTime | None:
        time = parse_clock_time(text)
        return _moved(self.dateTime(), time=time) if time is not None else None

    @override
    def problem_words(self, text: str) -> str:
        return f"“{text.strip()}” is not a time: type it as 9:30 AM, 2:30 pm or 14:30"

    @override
    def _said_refused(self, words: str) -> None:
        self.refused.emit(words)


class DateTimeField(_TypedField, QDateTimeEdit):
    """A day and a time typed together (12/12/2026 10:30, 12/12/2026 2:30 pm) or picked on
    the calendar, shown in the clinic's time format (``set_time_format``).

    ``weekday`` shows the day of the week before the date ("Mon 12/14/2026 9:00 AM"); it may
    be typed or left in the text, and is read past: the date decides.

    Signals:
        refused(str): typed text was not a date and time when read, why in words.
    """

    refused = Signal(str)

    def __init__(
        self, parent: QWidget | None = None, *, weekday: bool = False, time_format: str = "12h"
    ) -> None:
        QDateTimeEdit.__init__(self, parent)
        self.setLocale(_US)
        self.setCalendarPopup(True)
        self._weekday = weekday
        self._time_format = time_format
        self._date_only = False
        self.set_time_format(time_format)

    def set_time_format(self, fmt: str) -> None:
        """Show the time as the clinic reads it ("12h" or "24h"); the value stays."""
        self._time_format = fmt
        day = DATE_FORMAT_WEEKDAY if self._weekday else DATE_FORMAT
        self.setDisplayFormat(day if self._date_only else f"{day} {TIME_FORMATS[fmt]}")

    def set_date_only(self, date_only: bool) -> None:
        """Show (and take) the day alone, for a whole day; the time stays in the value."""
        self._date_only = date_only
        self.set_time_format(self._time_format)

    @override
    def _read(self, text: str) -> QDateTime | None:
        moment = parse_date_time(text, default_year=self.date().year())
        if moment is not None:
            return _moved(self.dateTime(), day=moment.date(), time=moment.time())
        # Only the day typed: the time stays.
        day = _typed_day(text, self.date())
        return _moved(self.dateTime(), day=day) if day is not None else None

    @override
    def problem_words(self, text: str) -> str:
        return _date_problem(text, time=True)

    @override
    def _said_refused(self, words: str) -> None:
        self.refused.emit(words)


def _typed_day(text: str, shown: QDate) -> dt.date | None:
    """The day typed, month first; typed without its year, the one nearest the day the field
    shows ("1/4" in a field showing Dec 30, 2026 is Jan 4, 2027, not a day eleven months
    past)."""
    around = dt.date(shown.year(), shown.month(), shown.day())
    day = parse_us_date(text, default_year=around.year)
    if day is not None and parse_us_date(text, default_year=around.year + 1) == day:
        return day  # its year typed
    years = (around.year - 1, around.year, around.year + 1)
    found = [d for y in years if (d := parse_us_date(text, default_year=y)) is not None]
    return min(found, key=lambda d: abs((d - around).days)) if found else None


def _date_problem(text: str, *, time: bool = False) -> str:
    """Typed text that is no date, said with how to type one, month first."""
    typed = text.strip()
    how = "12/15 or 12/15/2026" + (" 9:30 AM" if time else "")
    if not typed:
        return f"No date typed: type it month first, as {how}"
    return f"“{typed}” is not a date: type it month first, as {how}"


def _moved(
    value: QDateTime, *, day: dt.date | None = None, time: dt.time | None = None
) -> QDateTime:
    """``value`` on another day or at another time, in its own time zone (a field showing the
    clinic's time keeps showing it, whatever this PC's zone)."""
    moved = QDateTime(value)
    if day is not None:
        moved.setDate(QDate(day.year, day.month, day.day))
    if time is not None:
        moved.setTime(QTime(time.hour, time.minute))
    return moved
