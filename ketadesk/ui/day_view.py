"""The day by room: a column per room, a block per session, phases shaded, painted by hand.

Painting is thin: ``day_layout.layout_day`` decides where everything goes, this widget turns the
result into pixels, and only what is in view is drawn, so fifteen rooms over twelve hours
scroll smoothly.  Colours come from the session types and the palette (light or dark).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from PySide6.QtCore import QEvent, QPointF, QRect, QRectF, QSize, Qt, QTimer
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetrics,
    QHelpEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPalette,
    QPen,
    QResizeEvent,
)
from PySide6.QtWidgets import QAbstractScrollArea, QFrame, QToolTip, QWidget

from ketadesk.services.schedule import DaySchedule
from ketadesk.ui.day_layout import (
    BlockBox,
    DayLayout,
    Metrics,
    Rect,
    block_lines,
    day_message,
    layout_day,
)
from ketadesk.ui.qt_workarounds import keep_none_alive

if TYPE_CHECKING:
    from typing_extensions import override
else:  # typing.override is Python 3.12+; the decorator only informs the type checker.
    _F = TypeVar("_F")

    def override(method: _F) -> _F:
        return method


#: How much of the session type's colour each phase shade gets (the rest is the background).
SHADE_STRENGTH = {"checkin": 0.22, "dosing": 0.62, "observation": 0.40, "therapy": 0.36}
STRIPE_WIDTH = 4
TEXT_PADDING = 4
MIN_TEXT_WIDTH = 30  # below this a block shows no text at all, rather than "..."
BADGE_MIN_WIDTH = 150  # narrower blocks say the status in words on their second line
LEFT_MIDDLE = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
#: Statuses that need the front desk's eye, and their colour (badge, or dot on narrow blocks).
STATUS_COLORS = {"checked_in": "#f2c94c", "in_progress": "#1e8e3e", "no_show": "#d93025"}


def mix(color: QColor, background: QColor, amount: float) -> QColor:
    """``amount`` of ``color`` over ``background`` (0 = background, 1 = color)."""
    keep = 1.0 - amount
    return QColor(
        round(color.red() * amount + background.red() * keep),
        round(color.green() * amount + background.green() * keep),
        round(color.blue() * amount + background.blue() * keep),
    )


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Base).lightness() < 128


class DayView(QAbstractScrollArea):
    """The clinic's day by room.

    The room header stays at the top and the time axis at the left while the body scrolls.
    Hovering a block shows the session's details.

    Attributes:
        metrics: the sizes the layout works with.
    """

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        now: Callable[[], dt.datetime] | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        super().__init__(parent)
        keep_none_alive()  # painting makes thousands of calls: see qt_workarounds
        self.metrics = metrics or Metrics()
        self._now = now or (lambda: dt.datetime.now(dt.UTC))
        self._schedule: DaySchedule | None = None
        self._layout: DayLayout | None = None
        self._show_cancelled = True
        # The viewport is made here and kept: asking Qt for it (viewport()) makes PySide work out
        # its Python type, which builds every QWidget subclass it knows (40 ms at start-up).
        self._canvas = QWidget(self)
        self._canvas.setMouseTracking(True)
        self._canvas.setAutoFillBackground(False)
        self.setViewport(self._canvas)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSizeAdjustPolicy(QAbstractScrollArea.SizeAdjustPolicy.AdjustIgnored)
        # The "now" line moves; repaint once a minute while it can be on screen.
        self._minute_timer = QTimer(self)
        self._minute_timer.setInterval(60_000)
        self._minute_timer.timeout.connect(self._canvas.update)

    # -- state ------------------------------------------------------------------------------

    def schedule(self) -> DaySchedule | None:
        return self._schedule

    def set_schedule(self, schedule: DaySchedule | None) -> None:
        same_day = (
            schedule is not None
            and self._schedule is not None
            and schedule.day == self._schedule.day
        )
        self._schedule = schedule
        self._relayout()
        if not same_day:
            self._scroll_to_start()
        if schedule is not None and schedule.day == self._local_now(schedule).date():
            self._minute_timer.start()
        else:
            self._minute_timer.stop()

    def show_cancelled(self) -> bool:
        return self._show_cancelled

    def set_show_cancelled(self, show: bool) -> None:
        self._show_cancelled = show
        self._relayout()

    def canvas(self) -> QWidget:
        """The viewport, where the day is painted."""
        return self._canvas

    def day_layout(self) -> DayLayout | None:
        """The current geometry (what is painted), for tests and hit-testing."""
        return self._layout

    # -- geometry ---------------------------------------------------------------------------

    def _relayout(self) -> None:
        if self._schedule is None:
            self._layout = None
        else:
            size = self._canvas.size()
            self._layout = layout_day(
                self._schedule,
                width=size.width(),
                height=size.height(),
                show_cancelled=self._show_cancelled,
                metrics=self.metrics,
            )
        self._update_scroll_bars()
        self._canvas.update()

    def _update_scroll_bars(self) -> None:
        m, size, layout = self.metrics, self._canvas.size(), self._layout
        body_w = size.width() - m.axis_width
        body_h = size.height() - m.header_height
        h_bar, v_bar = self.horizontalScrollBar(), self.verticalScrollBar()
        h_bar.setRange(0, max(0, round(layout.width - body_w)) if layout else 0)
        v_bar.setRange(0, max(0, round(layout.height - body_h)) if layout else 0)
        h_bar.setPageStep(max(1, body_w))
        v_bar.setPageStep(max(1, body_h))
        h_bar.setSingleStep(round(layout.column_width / 4) if layout else 20)
        v_bar.setSingleStep(round(15 * layout.pixels_per_minute) if layout else 20)

    def _scroll_to_start(self) -> None:
        """Open a day at its first session (or opening time), not at midnight."""
        self.horizontalScrollBar().setValue(0)
        layout = self._layout
        if layout is None:
            return
        first = min((b.rect.y for b in layout.blocks), default=0.0)
        self.verticalScrollBar().setValue(round(max(0.0, first - 30 * layout.pixels_per_minute)))

    def body_origin(self) -> QPointF:
        """Where body (0, 0) is in viewport coordinates."""
        return QPointF(
            self.metrics.axis_width - self.horizontalScrollBar().value(),
            self.metrics.header_height - self.verticalScrollBar().value(),
        )

    def block_at(self, viewport_pos: QPointF) -> BlockBox | None:
        if self._layout is None:
            return None
        m = self.metrics
        if viewport_pos.x() < m.axis_width or viewport_pos.y() < m.header_height:
            return None
        origin = self.body_origin()
        return self._layout.block_at(viewport_pos.x() - origin.x(), viewport_pos.y() - origin.y())

    def _local_now(self, schedule: DaySchedule) -> dt.datetime:
        return self._now().astimezone(schedule.day_start.tzinfo)

    # -- Qt overrides ------------------------------------------------------------------------

    @override
    def sizeHint(self) -> QSize:
        return QSize(960, 640)

    @override
    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._relayout()

    @override
    def scrollContentsBy(self, dx: int, dy: int) -> None:
        self._canvas.update()

    @override
    def viewportEvent(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip:
            assert isinstance(event, QHelpEvent)
            block = self.block_at(QPointF(event.pos()))
            if block is None:
                QToolTip.hideText()
                event.ignore()
            else:
                QToolTip.showText(event.globalPos(), self._tooltip(block), self._canvas)
            return True
        return super().viewportEvent(event)

    @override
    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.FontChange):
            self._canvas.update()

    @override
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self._canvas)
        try:
            if self._layout is None or self._schedule is None:
                painter.fillRect(self._canvas.rect(), self.palette().color(QPalette.ColorRole.Base))
            else:
                _DayPainter(self, painter, self._layout, self._schedule).paint()
        finally:
            painter.end()

    def _tooltip(self, block: BlockBox) -> str:
        import html  # tooltips come long after start-up

        a = block.appointment
        room = next(
            (
                c.room.name
                for c in (self._layout.columns if self._layout else ())
                if c.room.id == a.room_id
            ),
            "",
        )
        lines = [
            f"<b>{html.escape(a.patient_name)}</b> · chart {html.escape(a.chart_number)}",
            html.escape(
                " · ".join(
                    p
                    for p in (a.session_type_name, a.series_label and f"session {a.series_label}")
                    if p
                )
            ),
            html.escape(f"{a.start:%H:%M}–{a.end:%H:%M}" + (f" · {room}" if room else "")),
            f"Status: {html.escape(a.status_label)}",
        ]
        if len(a.phases) > 1:
            lines.append("")
            lines.extend(html.escape(f"{p.start:%H:%M}–{p.end:%H:%M}  {p.name}") for p in a.phases)
        return "<br>".join(lines)


class _DayPainter:
    """One paint of a DayView: palette, fonts and the visible area, worked out once."""

    def __init__(
        self, view: DayView, painter: QPainter, layout: DayLayout, schedule: DaySchedule
    ) -> None:
        self.view = view
        self.p = painter
        self.m = view.metrics
        self.layout = layout
        self.schedule = schedule
        palette = view.palette()
        self.dark = is_dark(palette)
        self.base = palette.color(QPalette.ColorRole.Base)
        self.text = palette.color(QPalette.ColorRole.Text)
        self.window = palette.color(QPalette.ColorRole.Window)
        self.window_text = palette.color(QPalette.ColorRole.WindowText)
        self.muted = palette.color(QPalette.ColorRole.PlaceholderText)
        self.grid = mix(self.text, self.base, 0.16)
        self.grid_minor = mix(self.text, self.base, 0.07)
        self.closed_fill = mix(self.text, self.base, 0.06)
        self.font = QFont(view.font())
        self.bold = QFont(self.font)
        self.bold.setBold(True)
        self.small = QFont(self.font)
        self.small.setPointSizeF(max(7.0, self.font.pointSizeF() * 0.9))
        self.badge_font = QFont(self.small)
        self.badge_font.setBold(True)
        self.bold_fm = QFontMetrics(self.bold)
        self.small_fm = QFontMetrics(self.small)
        self.size = view.canvas().size()
        self.origin = view.body_origin()
        # The body area in view, in body coordinates.
        self.visible = Rect(
            -self.origin.x() + self.m.axis_width,
            -self.origin.y() + self.m.header_height,
            self.size.width() - self.m.axis_width,
            self.size.height() - self.m.header_height,
        )

    def paint(self) -> None:
        p = self.p
        p.fillRect(QRect(0, 0, self.size.width(), self.size.height()), self.base)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        self._paint_body()
        self._paint_header()
        self._paint_axis()
        self._paint_corner()

    # -- body -------------------------------------------------------------------------------

    def _paint_body(self) -> None:
        p, m, layout = self.p, self.m, self.layout
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
        for band in layout.bands:
            r = _qrect(band.rect)
            p.fillRect(r, self.closed_fill)
            if band.kind == "closure":
                p.fillRect(r, QBrush(self.grid, Qt.BrushStyle.BDiagPattern))
                if band.reason and band.rect.h >= 16:
                    p.setFont(self.small)
                    p.setPen(self.muted)
                    p.drawText(
                        r.adjusted(6, 2, -6, -2),
                        Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop,
                        band.reason,
                    )
        for tick in layout.ticks:
            p.setPen(QPen(self.grid if tick.major else self.grid_minor, 1))
            y = round(tick.y)
            p.drawLine(0, y, round(layout.width), y)
        p.setPen(QPen(self.grid, 1))
        for column in layout.columns[1:]:
            x = round(column.x)
            p.drawLine(x, 0, x, round(layout.height))
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        for block in layout.blocks_in(self.visible):
            self._paint_block(block)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        self._paint_now_line()
        p.restore()
        self._paint_message()

    def _paint_block(self, block: BlockBox) -> None:
        p, a = self.p, block.appointment
        rect = _qrectf(block.rect)
        path = QPainterPath()
        path.addRoundedRect(rect.adjusted(0.5, 0.5, -0.5, -0.5), 3, 3)
        color = QColor(a.color)
        if not color.isValid():
            color = self.muted
        p.save()
        p.setClipPath(path)
        if a.is_active:
            p.fillRect(rect, mix(color, self.base, SHADE_STRENGTH["observation"]))
            for phase in block.phases:
                strength = SHADE_STRENGTH.get(phase.phase.shade, 0.36)
                p.fillRect(_qrectf(phase.rect), mix(color, self.base, strength))
            p.fillRect(QRectF(rect.x(), rect.y(), STRIPE_WIDTH, rect.height()), color)
            border = color.darker(135) if not self.dark else color.lighter(125)
            text_color = self.text
        else:
            # Cancelled or no-show: hatched and grey, the slot visibly free again.
            p.fillRect(rect, self.base)
            p.fillRect(rect, QBrush(mix(self.text, self.base, 0.22), Qt.BrushStyle.BDiagPattern))
            p.fillRect(
                QRectF(rect.x(), rect.y(), STRIPE_WIDTH, rect.height()), mix(color, self.base, 0.45)
            )
            border = mix(self.text, self.base, 0.45)
            text_color = mix(self.text, self.base, 0.72)
        p.restore()
        pen = QPen(border, 1)
        if not a.is_active:
            pen.setStyle(Qt.PenStyle.DashLine)
        p.setPen(pen)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawPath(path)
        if block.clipped_before or block.clipped_after:
            self._paint_clip_marks(block, border)
        self._paint_block_text(block, text_color)

    def _paint_clip_marks(self, block: BlockBox, color: QColor) -> None:
        """A small arrow where a block runs past the range shown."""
        p, r = self.p, block.rect
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(color)
        cx = r.right - 10
        if block.clipped_before:
            p.drawPolygon(
                [QPointF(cx - 5, r.y + 7), QPointF(cx + 5, r.y + 7), QPointF(cx, r.y + 2)]
            )
        if block.clipped_after:
            b = r.bottom
            p.drawPolygon([QPointF(cx - 5, b - 7), QPointF(cx + 5, b - 7), QPointF(cx, b - 2)])

    def _paint_block_text(self, block: BlockBox, color: QColor) -> None:
        a, r = block.appointment, block.rect
        left = r.x + STRIPE_WIDTH + TEXT_PADDING
        width = int(r.w - STRIPE_WIDTH - 2 * TEXT_PADDING)
        bold_fm, small_fm = self.bold_fm, self.small_fm
        # As many lines as fit: the name in bold, the rest smaller.
        available = r.h - 3
        heights = [bold_fm.height()] + [small_fm.height()] * 4
        max_lines = 0
        for h in heights:
            if available < h:
                break
            available -= h
            max_lines += 1
        badge = self._badge(a.status) if width >= BADGE_MIN_WIDTH and max_lines >= 2 else None
        lines = block_lines(a, max(max_lines, 1), with_status=badge is None)
        p = self.p
        dot = STATUS_COLORS.get(a.status) if badge is None else None
        if dot is not None:  # narrow blocks: a coloured dot says "here" / "in the chair" / "missed"
            width -= 10
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(dot))
            p.drawEllipse(QPointF(r.right - 8, r.y + 2 + bold_fm.height() / 2), 4, 4)
        if width < MIN_TEXT_WIDTH:  # a sliver: its colour, hatching and tooltip say enough
            return
        y = r.y + 2
        for i, line in enumerate(lines):
            font, fm = (self.bold, bold_fm) if i == 0 else (self.small, small_fm)
            line_width = width
            if i == 0 and badge is not None:
                line_width -= self._paint_badge(badge, r.right - TEXT_PADDING, y, fm.height()) + 4
            p.setFont(font)
            p.setPen(color)
            p.drawText(
                QRectF(left, y, line_width, fm.height()),
                LEFT_MIDDLE,
                fm.elidedText(line, Qt.TextElideMode.ElideRight, line_width),
            )
            y += fm.height()

    def _badge(self, status: str) -> tuple[str, QColor, QColor] | None:
        """Label, fill and text colour of a status badge; none for a plain booking."""
        light_text, dark_text = QColor("#ffffff"), QColor("#1f1f1f")
        neutral = mix(self.text, self.base, 0.16)
        return {
            "checked_in": ("Checked in", QColor(STATUS_COLORS["checked_in"]), dark_text),
            "in_progress": ("In session", QColor(STATUS_COLORS["in_progress"]), light_text),
            "completed": ("✓ Done", neutral, self.text),
            "no_show": ("No-show", QColor(STATUS_COLORS["no_show"]), light_text),
            "cancelled": ("Cancelled", neutral, self.text),
        }.get(status)

    def _paint_badge(
        self, badge: tuple[str, QColor, QColor], right: float, y: float, h: float
    ) -> int:
        """Draw a badge right-aligned at ``right``; returns its width."""
        text, fill, ink = badge
        fm = QFontMetrics(self.badge_font)
        w = fm.horizontalAdvance(text) + 10
        rect = QRectF(right - w, y + 1, w, h - 2)
        p = self.p
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(fill)
        p.drawRoundedRect(rect, 3, 3)
        p.setPen(ink)
        p.setFont(self.badge_font)
        p.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
        return w

    def _paint_now_line(self) -> None:
        layout, schedule = self.layout, self.schedule
        now = self.view._local_now(schedule)
        if now.date() != schedule.day:
            return
        minute = now.hour * 60 + now.minute + now.second / 60
        if not layout.range.first <= minute <= layout.range.last:
            return
        y = round(layout.y_of(minute))
        red = QColor("#d93025") if not self.dark else QColor("#ff6b5e")
        self.p.setPen(QPen(red, 2))
        self.p.drawLine(0, y, round(layout.width), y)

    def _paint_message(self) -> None:
        """Closed days say why; an empty day says so."""
        schedule, layout = self.schedule, self.layout
        message = day_message(schedule, len(layout.blocks))
        if message is None:
            return
        title, detail = message
        p, m = self.p, self.m
        area = QRectF(
            m.axis_width,
            m.header_height,
            self.size.width() - m.axis_width,
            self.size.height() - m.header_height,
        )
        title_font = QFont(self.bold)
        title_font.setPointSizeF(self.font.pointSizeF() * 1.6)
        tf, df = QFontMetrics(title_font), QFontMetrics(self.font)
        w = max(tf.horizontalAdvance(title), df.horizontalAdvance(detail)) + 48
        h = tf.height() + (df.height() + 6 if detail else 0) + 28
        box = QRectF(area.center().x() - w / 2, area.y() + min(120, area.height() / 3), w, h)
        p.save()
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setPen(QPen(self.grid, 1))
        p.setBrush(self.window)
        p.drawRoundedRect(box, 8, 8)
        p.setPen(self.window_text)
        p.setFont(title_font)
        p.drawText(
            QRectF(box.x(), box.y() + 14, w, tf.height()), Qt.AlignmentFlag.AlignCenter, title
        )
        if detail:
            p.setFont(self.font)
            p.setPen(self.muted)
            p.drawText(
                QRectF(box.x(), box.y() + 20 + tf.height(), w, df.height()),
                Qt.AlignmentFlag.AlignCenter,
                detail,
            )
        p.restore()

    # -- header, axis, corner ----------------------------------------------------------------

    def _paint_header(self) -> None:
        p, m, layout = self.p, self.m, self.layout
        p.save()
        p.setClipRect(QRect(m.axis_width, 0, self.size.width() - m.axis_width, m.header_height))
        p.fillRect(QRect(0, 0, self.size.width(), m.header_height), self.window)
        p.translate(self.origin.x(), 0)
        bold_fm, small_fm = self.bold_fm, self.small_fm
        for column in layout.columns:
            if column.x + column.w < self.visible.x or column.x > self.visible.right:
                continue
            r = QRectF(column.x + 6, 0, column.w - 12, m.header_height)
            name_h, kind_h = bold_fm.height(), small_fm.height()
            top = (m.header_height - name_h - kind_h) / 2
            p.setFont(self.bold)
            p.setPen(self.window_text)
            p.drawText(
                QRectF(r.x(), top, r.width(), name_h),
                LEFT_MIDDLE,
                bold_fm.elidedText(column.room.name, Qt.TextElideMode.ElideRight, int(r.width())),
            )
            kind = {"treatment": "Treatment room", "office": "Office"}.get(
                column.room.subkind, "Telehealth"
            )
            if not column.room.active:
                kind += " · out of use"
            p.setFont(self.small)
            p.setPen(self.muted)
            p.drawText(
                QRectF(r.x(), top + name_h, r.width(), kind_h),
                LEFT_MIDDLE,
                small_fm.elidedText(kind, Qt.TextElideMode.ElideRight, int(r.width())),
            )
            if column.x > 0:
                p.setPen(QPen(self.grid, 1))
                p.drawLine(round(column.x), 6, round(column.x), m.header_height - 6)
        p.restore()
        p.setPen(QPen(self.grid, 1))
        p.drawLine(0, m.header_height - 1, self.size.width(), m.header_height - 1)

    def _paint_axis(self) -> None:
        p, m, layout = self.p, self.m, self.layout
        p.save()
        p.setClipRect(QRect(0, m.header_height, m.axis_width, self.size.height() - m.header_height))
        p.fillRect(QRect(0, 0, m.axis_width, self.size.height()), self.window)
        p.translate(0, self.origin.y())
        fm = QFontMetrics(self.small)
        p.setFont(self.small)
        p.setPen(self.window_text)
        for tick in layout.ticks:
            if not tick.label:
                continue
            y = tick.y
            # Labels at the very top or bottom of the day sit inside it, not cut in half.
            r = QRectF(0, y - fm.height() / 2, m.axis_width - 8, fm.height())
            if r.y() < 0:
                r.moveTop(y + 1)
            elif r.bottom() > layout.height:
                r.moveBottom(y - 1)
            p.drawText(r, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, tick.label)
        p.restore()
        p.setPen(QPen(self.grid, 1))
        p.drawLine(m.axis_width - 1, 0, m.axis_width - 1, self.size.height())

    def _paint_corner(self) -> None:
        p, m, schedule = self.p, self.m, self.schedule
        p.fillRect(QRect(0, 0, m.axis_width - 1, m.header_height - 1), self.window)
        p.setFont(self.small)
        p.setPen(self.muted)
        zone = schedule.day_start.tzname() or ""
        p.drawText(
            QRect(0, 0, m.axis_width - 8, m.header_height),
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom,
            zone,
        )


def _qrect(r: Rect) -> QRect:
    return QRect(round(r.x), round(r.y), round(r.w), round(r.h))


def _qrectf(r: Rect) -> QRectF:
    return QRectF(r.x, r.y, r.w, r.h)
