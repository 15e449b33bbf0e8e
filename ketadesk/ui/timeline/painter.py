"""What the day and the week views paint alike: one paint's palette, fonts and visible area, the
order of the layers, the grid, the blocks' colours, the header, the time axis and the corner.

Each view's painter derives from ``TimelinePainter`` and adds only what is its own (the day's
rooms, phases and badges; the week's days and today's tint).  A painter lives for one paint
event, so everything worked out here is worked out once per paint, not once per block.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from PySide6.QtCore import QPointF, QRect, QRectF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetrics,
    QPainter,
    QPalette,
    QPen,
    QStaticText,
    QTransform,
)

from ketadesk.ui.common.colors import is_dark, mix
from ketadesk.ui.timeline.day_layout import Metrics, Rect, Tick
from ketadesk.ui.timeline.drag import DragState, paint_blocks

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget

    from ketadesk.services.schedule.day_schedule import DayAppointment
    from ketadesk.ui.timeline.week_layout import WeekMetrics

#: How much of the session type's colour each phase shade gets (the rest is the background).
SHADE_STRENGTH = {"checkin": 0.22, "dosing": 0.62, "observation": 0.40, "therapy": 0.36}
#: Statuses that need the front desk's eye, and their colour (badge, dot or bar).
STATUS_COLORS = {"checked_in": "#f2c94c", "in_progress": "#1e8e3e", "no_show": "#d93025"}
#: A booked patient not checked in after the grace period (late), and long after (a no-show
#: candidate); a patient checked in and still not started (an overrun):
#: scheduling/confirmations.arrival_state.
#: Each its own mark (trial 3, A16: the legend said a red dot meant "No-show", and red dots
#: stood on a patient checked in but not started and on one not arrived yet): an overrun is
#: purple, and a no-show candidate, not marked as one, a red ring rather than a red dot.
ARRIVAL_COLORS = {"late": "#e37400", "no_show_candidate": "#b3261e", "not_started": "#8e24aa"}
#: The arrival states drawn as a ring on a narrow block (the others as a dot).
HOLLOW_DOTS = frozenset({"no_show_candidate"})
#: A session on a day (or in a room) that closed after it was booked: its red outline and tab.
CLOSED_COLOR = "#c2410c"
#: A session on the patient's days away (booked before they said so): the amber of the session
#: page's "This day" notice and of a drag that needs an override (light, dark palette).
AWAY_COLORS = ("#b06000", "#ffb74d")
#: A session running past its planned end: its hatched tail and badge, in the day and the week
#: (light, dark palette).
OVERRUN_COLORS = ("#b3261e", "#ff8a80")
#: The "now" line, on a light and on a dark palette.
NOW_COLORS = ("#d93025", "#ff6b5e")
LEFT_MIDDLE = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
RIGHT_MIDDLE = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


class TimelineView(Protocol):
    """What a painter asks of the view it paints (``DayView``, ``WeekView``)."""

    def palette(self) -> QPalette: ...
    def font(self) -> QFont: ...
    def canvas(self) -> QWidget: ...
    def body_origin(self) -> QPointF: ...
    def drag_state(self) -> DragState | None: ...
    def selected_id(self) -> int | None: ...


class _Column(Protocol):
    @property
    def x(self) -> float: ...
    @property
    def w(self) -> float: ...


class _Block(Protocol):
    @property
    def rect(self) -> Rect: ...
    @property
    def appointment(self) -> DayAppointment: ...


ColumnT = TypeVar("ColumnT", bound=_Column)
BlockT = TypeVar("BlockT", bound=_Block)


def qrectf(r: Rect) -> QRectF:
    return QRectF(r.x, r.y, r.w, r.h)


# A block's lines are the same from paint to paint (a drag's ghost repaints the whole view at
# every step) and largely from day to day (a series brings its patient back, times and session
# types repeat): eliding a line and laying out its glyphs is most of what painting text costs,
# so both are kept, by font, width and text.  Cleared when they grow past ``_TEXTS_MAX``.
_TEXTS_MAX = 20_000
_ELIDED: dict[tuple[str, int, str], str] = {}
_STATIC: dict[tuple[str, str], QStaticText] = {}
_SHADES: dict[tuple[int, int, float], QColor] = {}


def elided(fm: QFontMetrics, font_key: str, text: str, width: int) -> str:
    """``text`` cut to ``width`` pixels with an ellipsis (QFontMetrics.elidedText, kept)."""
    key = (font_key, width, text)
    found = _ELIDED.get(key)
    if found is None:
        if len(_ELIDED) >= _TEXTS_MAX:
            _ELIDED.clear()
        found = _ELIDED[key] = fm.elidedText(text, Qt.TextElideMode.ElideRight, width)
    return found


def draw_line(
    p: QPainter, font: QFont, font_key: str, fm: QFontMetrics, x: float, y: float, text: str
) -> None:
    """Draw one line of plain text with its top left at (x, y) in ``font`` (the painter's font
    is set to it), through a QStaticText kept per font and text: the glyphs are laid out once.
    Looks as ``drawText`` in a rectangle of the font's height, aligned left and middle."""
    key = (font_key, text)
    static = _STATIC.get(key)
    if static is None:
        if len(_STATIC) >= _TEXTS_MAX:
            _STATIC.clear()
        static = QStaticText(text)
        static.setTextFormat(Qt.TextFormat.PlainText)
        static.prepare(QTransform(), font)
        _STATIC[key] = static
    p.setFont(font)
    p.drawStaticText(QPointF(x, y), static)


def shade(color: QColor, background: QColor, amount: float) -> QColor:
    """``colors.mix``, kept per colour pair and amount (a paint mixes a few per block)."""
    key = (color.rgba(), background.rgba(), amount)
    found = _SHADES.get(key)
    if found is None:
        if len(_SHADES) >= _TEXTS_MAX:
            _SHADES.clear()
        found = _SHADES[key] = mix(color, background, amount)
    return found


class TimelinePainter(Generic[ColumnT, BlockT]):
    """One paint of a timeline view: the palette's colours, the fonts and the body area in view,
    worked out once; ``paint`` lays the layers in order and calls the view's own parts.

    Subclasses give ``_paint_body`` (inside the body's clip and scroll), ``_paint_block`` and
    ``_paint_selection`` (called by ``_paint_blocks``), the header's ``_header_columns`` and
    ``_header_lines``, the axis's ``_ticks`` and ``_body_height``, the corner's ``_zone``; they
    may add ``_paint_header_marks`` (behind a column's title) and ``_paint_over_body`` (above
    the body, under the header).

    Attributes:
        p: the QPainter.
        m: the view's metrics (header height, axis width).
        size: the viewport's size; origin: where body (0, 0) is in it.
        visible: the body area in view, in body coordinates.
    """

    def __init__(
        self,
        view: TimelineView,
        painter: QPainter,
        metrics: Metrics | WeekMetrics,
        *,
        small_scale: float,
        origin: QPointF | None = None,
        fresh: bool = False,
    ) -> None:
        """``origin`` (body (0, 0) in the viewport) paints the view scrolled elsewhere than it
        is; ``fresh`` paints it as a day just opened: nothing selected, nothing moving."""
        self.p = painter
        self.m = metrics
        palette = view.palette()
        self.dark = is_dark(palette)
        self.base = palette.color(QPalette.ColorRole.Base)
        self.text = palette.color(QPalette.ColorRole.Text)
        self.window = palette.color(QPalette.ColorRole.Window)
        self.window_text = palette.color(QPalette.ColorRole.WindowText)
        self.muted = palette.color(QPalette.ColorRole.PlaceholderText)
        self.highlight = palette.color(QPalette.ColorRole.Highlight)
        self.grid = mix(self.text, self.base, 0.16)
        self.grid_minor = mix(self.text, self.base, 0.07)
        self.closed_fill = mix(self.text, self.base, 0.06)
        self.font = QFont(view.font())
        self.bold = QFont(self.font)
        self.bold.setBold(True)
        self.small = QFont(self.font)
        self.small.setPointSizeF(max(7.0, self.font.pointSizeF() * small_scale))
        self.small_bold = QFont(self.small)
        self.small_bold.setBold(True)
        self.bold_fm = QFontMetrics(self.bold)
        self.small_fm = QFontMetrics(self.small)
        self.small_bold_fm = QFontMetrics(self.small_bold)
        self.bold_key, self.small_key = self.bold.key(), self.small.key()
        self.small_bold_key = self.small_bold.key()
        self.drag = None if fresh else view.drag_state()
        self.selected = None if fresh else view.selected_id()
        self.size = view.canvas().size()
        self.origin = origin if origin is not None else view.body_origin()
        self.visible = Rect(
            -self.origin.x() + metrics.axis_width,
            -self.origin.y() + metrics.header_height,
            self.size.width() - metrics.axis_width,
            self.size.height() - metrics.header_height,
        )

    def paint(self) -> None:
        p, m = self.p, self.m
        p.fillRect(QRect(0, 0, self.size.width(), self.size.height()), self.base)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        p.save()
        p.setClipRect(
            QRect(
                m.axis_width,
                m.header_height,
                self.size.width() - m.axis_width,
                self.size.height() - m.header_height,
            )
        )
        p.translate(self.origin)
        self._paint_body()
        p.restore()
        self._paint_over_body()
        self._paint_header()
        self._paint_axis()
        self._paint_corner()

    # -- the view's own parts ------------------------------------------------------------------

    def _paint_body(self) -> None:
        """The body, in body coordinates (clipped and scrolled already)."""
        raise NotImplementedError

    def _paint_over_body(self) -> None:
        """Above the body, in viewport coordinates (nothing by default)."""

    def _header_columns(self) -> Sequence[ColumnT]:
        raise NotImplementedError

    def _header_lines(self, column: ColumnT) -> tuple[str, str]:
        """A column header's title (bold) and the line under it (muted)."""
        raise NotImplementedError

    def _paint_header_marks(self, index: int, column: ColumnT) -> None:
        """Anything behind a column header's text (nothing by default)."""

    def _ticks(self) -> Sequence[Tick]:
        raise NotImplementedError

    def _body_height(self) -> float:
        raise NotImplementedError

    def _zone(self) -> str | None:
        """The time zone's name for the corner (None: leave it empty)."""
        raise NotImplementedError

    def _paint_block(self, block: BlockT) -> None:
        raise NotImplementedError

    def _paint_selection(self, block: BlockT) -> None:
        raise NotImplementedError

    # -- body parts both views use ------------------------------------------------------------

    def _paint_grid(self, width: float, height: float, column_xs: Iterable[float]) -> None:
        """The time ticks across the body and a line between columns."""
        p = self.p
        for tick in self._ticks():
            p.setPen(QPen(self.grid if tick.major else self.grid_minor, 1))
            y = round(tick.y)
            p.drawLine(0, y, round(width), y)
        p.setPen(QPen(self.grid, 1))
        for x in column_xs:
            p.drawLine(round(x), 0, round(x), round(height))

    def _paint_blocks(self, blocks: Iterable[BlockT]) -> None:
        """The blocks in view (antialiased), the one being moved faded, the selection ringed."""
        p = self.p
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        paint_blocks(p, blocks, self.drag, self.selected, self._paint_block, self._paint_selection)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)

    def _block_color(self, a: DayAppointment) -> QColor:
        """The session type's colour (muted when the type has none that Qt can read)."""
        color = QColor(a.color)
        return color if color.isValid() else self.muted

    def _active_border(self, color: QColor) -> QColor:
        return color.darker(135) if not self.dark else color.lighter(125)

    def _paint_struck_out(self, rect: QRectF) -> tuple[QColor, QColor]:
        """Fill a cancelled or no-show block hatched and grey, the slot visibly free again;
        gives its border and text colours."""
        p = self.p
        p.fillRect(rect, self.base)
        p.fillRect(rect, QBrush(mix(self.text, self.base, 0.22), Qt.BrushStyle.BDiagPattern))
        return mix(self.text, self.base, 0.45), mix(self.text, self.base, 0.72)

    def _paint_pencilled_in(self, rect: QRectF, color: QColor) -> None:
        """A tentative hold ("pencilled in"): the session type's colour hatched over its shading,
        so it reads as held but not yet booked."""
        self.p.fillRect(rect, QBrush(shade(color, self.base, 0.8), Qt.BrushStyle.BDiagPattern))

    def _outline_pen(self, border: QColor, active: bool, tentative: bool = False) -> QPen:
        pen = QPen(border, 1)
        if not active:
            pen.setStyle(Qt.PenStyle.DashLine)
        elif tentative:
            pen.setStyle(Qt.PenStyle.DotLine)
            pen.setWidthF(1.5)
        return pen

    def _paint_day_mark(self, a: DayAppointment, rect: QRectF) -> None:
        """What the session's day holds against it, marked on its block: a closed day or room
        in red, else the patient's days away in amber."""
        if a.closed_notice:
            self._paint_closed_mark(rect)
        elif a.away:
            self._paint_closed_mark(rect, QColor(AWAY_COLORS[self.dark]))

    def _paint_closed_mark(self, rect: QRectF, color: QColor | None = None) -> None:
        """A session whose day or room closed after it was booked: a red dashed outline and a
        red corner tab with "!" at the bottom right (the top right holds the badges), seen at
        any width; the tooltip says "reschedule".  ``color``: another reason's colour (amber:
        the patient is away that day)."""
        p = self.p
        red = color if color is not None else QColor(CLOSED_COLOR)
        p.save()
        p.setPen(QPen(red, 2, Qt.PenStyle.DashLine))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRect(rect.adjusted(1.0, 1.0, -1.0, -1.0))
        size = min(14.0, rect.width() / 2, rect.height())
        if size >= 6:
            right, bottom = rect.right(), rect.bottom()
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(red)
            p.drawPolygon(
                [
                    QPointF(right, bottom - size),
                    QPointF(right, bottom),
                    QPointF(right - size, bottom),
                ]
            )
            p.setPen(QColor("#ffffff"))
            font = QFont(self.p.font())
            font.setBold(True)
            font.setPixelSize(max(6, int(size * 0.6)))
            p.setFont(font)
            p.drawText(
                QRectF(right - size * 0.55, bottom - size * 0.6, size * 0.55, size * 0.6),
                Qt.AlignmentFlag.AlignCenter,
                "!",
            )
        p.restore()

    def _paint_ring(self, rect: QRectF, radius: float) -> None:
        """The selection: the palette's highlight just outside a block."""
        p = self.p
        p.setPen(QPen(self.highlight, 2))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRoundedRect(rect.adjusted(-1.0, -1.0, 1.0, 1.0), radius, radius)

    def _paint_now_line(self, y: float, left: float, right: float) -> None:
        self.p.setPen(QPen(QColor(NOW_COLORS[self.dark]), 2))
        self.p.drawLine(round(left), round(y), round(right), round(y))

    # -- header, axis, corner ----------------------------------------------------------------

    def _paint_header(self) -> None:
        p, m = self.p, self.m
        p.save()
        p.setClipRect(QRect(m.axis_width, 0, self.size.width() - m.axis_width, m.header_height))
        p.fillRect(QRect(0, 0, self.size.width(), m.header_height), self.window)
        p.translate(self.origin.x(), 0)
        bold_fm, small_fm = self.bold_fm, self.small_fm
        name_h, detail_h = bold_fm.height(), small_fm.height()
        top = (m.header_height - name_h - detail_h) / 2
        for index, column in enumerate(self._header_columns()):
            if column.x + column.w < self.visible.x or column.x > self.visible.right:
                continue
            self._paint_header_marks(index, column)
            title, detail = self._header_lines(column)
            r = QRectF(column.x + 6, 0, column.w - 12, m.header_height)
            p.setPen(self.window_text)
            text = elided(bold_fm, self.bold_key, title, int(r.width()))
            draw_line(p, self.bold, self.bold_key, bold_fm, r.x(), top, text)
            p.setPen(self.muted)
            text = elided(small_fm, self.small_key, detail, int(r.width()))
            draw_line(p, self.small, self.small_key, small_fm, r.x(), top + name_h, text)
            if column.x > 0:
                p.setPen(QPen(self.grid, 1))
                p.drawLine(round(column.x), 6, round(column.x), m.header_height - 6)
        p.restore()
        p.setPen(QPen(self.grid, 1))
        p.drawLine(0, m.header_height - 1, self.size.width(), m.header_height - 1)

    def _paint_axis(self) -> None:
        p, m = self.p, self.m
        height = self._body_height()
        p.save()
        p.setClipRect(QRect(0, m.header_height, m.axis_width, self.size.height() - m.header_height))
        p.fillRect(QRect(0, 0, m.axis_width, self.size.height()), self.window)
        p.translate(0, self.origin.y())
        fm = self.small_fm
        p.setFont(self.small)
        p.setPen(self.window_text)
        for tick in self._ticks():
            if not tick.label:
                continue
            # Labels at the very top or bottom of the day sit inside it, not cut in half.
            r = QRectF(0, tick.y - fm.height() / 2, m.axis_width - 8, fm.height())
            if r.y() < 0:
                r.moveTop(tick.y + 1)
            elif r.bottom() > height:
                r.moveBottom(tick.y - 1)
            p.drawText(r, RIGHT_MIDDLE, tick.label)
        p.restore()
        p.setPen(QPen(self.grid, 1))
        p.drawLine(m.axis_width - 1, 0, m.axis_width - 1, self.size.height())

    def _paint_corner(self) -> None:
        p, m = self.p, self.m
        p.fillRect(QRect(0, 0, m.axis_width - 1, m.header_height - 1), self.window)
        zone = self._zone()
        if zone is None:
            return
        p.setFont(self.small)
        p.setPen(self.muted)
        p.drawText(
            QRect(0, 0, m.axis_width - 8, m.header_height),
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom,
            zone,
        )
