"""A patient's outcome-measure scores over time, painted by hand (QtCharts is not in
PySide6-Essentials): severity bands shaded, the baseline, the 50 % response line and the
remission threshold drawn and labelled, each score a dot on a dated line.

``chart_geometry`` works out every position as plain numbers (tested without a widget);
``TrendChart`` only paints it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from ketadesk.services.monitoring.measurements import MeasureTrend
from ketadesk.ui.common.dates import short_date
from ketadesk.ui.common.qt_workarounds import keep_none_alive

if TYPE_CHECKING:
    from typing_extensions import override
else:  # typing.override is Python 3.12+; the decorator only informs the type checker.
    _F = TypeVar("_F")

    def override(method: _F) -> _F:
        return method


# Band tints from the mildest to the most severe band (mixed into the palette's base colour).
BAND_HUES = ("#3aa757", "#8bbf3c", "#e0b000", "#e07b00", "#d93025")


@dataclass(frozen=True)
class Line:
    y: float
    value: float
    label: str
    kind: str  # "baseline" | "response" | "remission"
    short: str = ""  # the label where room is short


@dataclass(frozen=True)
class BandRect:
    top: float
    bottom: float
    label: str
    index: int


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    total: int
    day: dt.date
    urgent: bool


@dataclass(frozen=True)
class ChartGeometry:
    plot: tuple[float, float, float, float]  # left, top, right, bottom
    bands: tuple[BandRect, ...]
    lines: tuple[Line, ...]
    dots: tuple[Dot, ...]
    x_ticks: tuple[tuple[float, str], ...]
    y_ticks: tuple[tuple[float, int], ...]


def chart_geometry(
    trend: MeasureTrend,
    width: float,
    height: float,
    *,
    left: float = 36,
    right: float = 12,
    top: float = 10,
    bottom: float = 24,
    max_x_ticks: int = 6,
) -> ChartGeometry:
    """Where everything goes in a ``width`` x ``height`` chart of ``trend``."""
    x0, x1 = left, max(left + 1, width - right)
    y0, y1 = top, max(top + 1, height - bottom)
    low, high = trend.total_min, trend.total_max

    def y_of(value: float) -> float:
        return y1 - (value - low) / (high - low) * (y1 - y0)

    bands = tuple(
        # A band covers its whole scores: from just below its lowest to just above its highest.
        BandRect(
            top=y_of(min(high, band.high + 0.5)),
            bottom=y_of(max(low, band.low - 0.5)),
            label=band.label,
            index=i,
        )
        for i, band in enumerate(trend.bands)
    )
    lines: list[Line] = []
    t = trend.trend
    if t is not None:
        lines.append(
            Line(
                y_of(t.baseline),
                t.baseline,
                f"baseline {t.baseline}",
                "baseline",
                f"base {t.baseline}",
            )
        )
        lines.append(
            Line(
                y_of(t.response_line),
                t.response_line,
                f"{trend.response_drop_percent}% response (≤ {t.response_line:g})",
                "response",
                f"resp ≤{t.response_line:g}",
            )
        )
        if t.remission_line is not None:
            lines.append(
                Line(
                    y_of(t.remission_line - 0.5),
                    t.remission_line,
                    f"remission (< {t.remission_line})",
                    "remission",
                    f"remit <{t.remission_line}",
                )
            )
    points = trend.points
    dots: list[Dot] = []
    x_ticks: list[tuple[float, str]] = []
    if points:
        first, last = points[0].taken_at, points[-1].taken_at
        span = (last - first).total_seconds()
        pad = 0.06 * (x1 - x0)

        def x_of(at: dt.datetime) -> float:
            if span <= 0:
                return (x0 + x1) / 2
            return x0 + pad + (at - first).total_seconds() / span * (x1 - x0 - 2 * pad)

        dots = [Dot(x_of(p.taken_at), y_of(p.total), p.total, p.day, p.urgent) for p in points]
        step = max(1, -(-len(points) // max_x_ticks))
        chosen = list(range(0, len(points), step))
        if chosen[-1] != len(points) - 1:
            if len(points) - 1 - chosen[-1] < step / 2 and len(chosen) > 1:
                chosen[-1] = len(points) - 1
            else:
                chosen.append(len(points) - 1)
        x_ticks = [(dots[i].x, short_date(points[i].day, weekday=False)) for i in chosen]
    y_values = sorted({low, high, *(b.low for b in trend.bands)})
    return ChartGeometry(
        plot=(x0, y0, x1, y1),
        bands=bands,
        lines=tuple(lines),
        dots=tuple(dots),
        x_ticks=tuple(x_ticks),
        y_ticks=tuple((y_of(v), v) for v in y_values),
    )


def _mix(a: QColor, b: QColor, amount: float) -> QColor:
    """``amount`` of ``b`` over ``a``."""
    return QColor(
        round(a.red() + (b.red() - a.red()) * amount),
        round(a.green() + (b.green() - a.green()) * amount),
        round(a.blue() + (b.blue() - a.blue()) * amount),
    )


class TrendChart(QWidget):
    """A patient's scores on one instrument, with the lines that judge them.

    Attributes:
        trend: the MeasureTrend shown (None before ``set_trend``).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        keep_none_alive()
        self.trend: MeasureTrend | None = None
        self.setObjectName("trend_chart")
        self.setAccessibleName("Outcome measure trend")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # so a screen reader can reach it

    def set_trend(self, trend: MeasureTrend | None) -> None:
        self.trend = trend
        if trend is None:
            self.setAccessibleName("Outcome measure trend")
            self.setAccessibleDescription("no measure chosen")
            self.setToolTip("")
        else:
            self.setAccessibleName(f"{trend.name} trend")
            self.setAccessibleDescription(trend.summary())
            self.setToolTip(trend.summary())
        self.update()

    @override
    def sizeHint(self) -> QSize:
        return QSize(520, 260)

    @override
    def minimumSizeHint(self) -> QSize:
        return QSize(220, 130)

    @override
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        try:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            self._paint(painter)
        finally:
            painter.end()

    def _paint(self, p: QPainter) -> None:
        palette = self.palette()
        base = palette.color(QPalette.ColorRole.Base)
        text = palette.color(QPalette.ColorRole.Text)
        muted = palette.color(QPalette.ColorRole.PlaceholderText)
        dark = base.lightness() < 128
        p.fillRect(self.rect(), base)
        small = QFont(self.font())
        small.setPointSizeF(max(7.0, small.pointSizeF() * 0.85))
        p.setFont(small)
        metrics = QFontMetrics(small)
        trend = self.trend
        if trend is None or not trend.points:
            p.setPen(muted)
            words = "No measure chosen" if trend is None else f"No {trend.name} scores yet"
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, words)
            return
        compact = self.width() < 360 or self.height() < 180
        geometry = chart_geometry(
            trend,
            self.width(),
            self.height(),
            left=metrics.horizontalAdvance("27") + 10,
            bottom=metrics.height() + 8,
            top=metrics.height() * 1.5 + 8,
            max_x_ticks=3 if compact else 6,
        )
        x0, y0, x1, y1 = geometry.plot
        # Severity bands, tinted from the palette's base so light and dark both read.
        strength = 0.22 if dark else 0.16
        for band in geometry.bands:
            hue = QColor(BAND_HUES[min(band.index, len(BAND_HUES) - 1)])
            rect = QRectF(x0, band.top, x1 - x0, band.bottom - band.top)
            p.fillRect(rect, _mix(base, hue, strength))
            if not compact and rect.height() >= metrics.height():
                p.setPen(_mix(text, hue, 0.5))
                p.drawText(
                    rect.adjusted(4, 0, -4, 0),
                    int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
                    band.label,
                )
        # Axes and ticks.
        p.setPen(QPen(muted, 1))
        p.drawLine(QPointF(x0, y0), QPointF(x0, y1))
        p.drawLine(QPointF(x0, y1), QPointF(x1, y1))
        p.setPen(text)
        last_y: float | None = None
        for y, value in sorted(geometry.y_ticks, key=lambda tick: -tick[0]):
            if last_y is not None and last_y - y < metrics.height():
                continue  # too close to the tick below: leave it out where room is short
            last_y = y
            p.drawText(
                QRectF(0, y - metrics.height() / 2, x0 - 4, metrics.height()),
                int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
                str(value),
            )
        for x, label in geometry.x_ticks:
            w = metrics.horizontalAdvance(label)
            left = min(max(x - w / 2, x0), self.width() - w - 2)
            p.drawText(
                QRectF(left, y1 + 3, w + 2, metrics.height()),
                int(Qt.AlignmentFlag.AlignLeft),
                label,
            )
        # The reference lines (baseline solid, response dashed, remission dash-dot), named in a
        # legend above the plot so no label ever sits under the scores.
        styles = {
            "baseline": (_mix(text, base, 0.35), Qt.PenStyle.SolidLine),
            "response": (QColor("#6ea8fe" if dark else "#1a56c4"), Qt.PenStyle.DashLine),
            "remission": (QColor("#5cc87a" if dark else "#1e7d3a"), Qt.PenStyle.DashDotLine),
        }
        for line in geometry.lines:
            color, style = styles[line.kind]
            p.setPen(QPen(color, 1.5, style))
            p.drawLine(QPointF(x0, line.y), QPointF(x1, line.y))
        self._paint_legend(p, geometry, styles, metrics, x0, text)
        # The scores.
        p.setPen(QPen(text, 2))
        for a, b in zip(geometry.dots, geometry.dots[1:], strict=False):
            p.drawLine(QPointF(a.x, a.y), QPointF(b.x, b.y))
        radius = 3.0 if compact else 4.0
        urgent = QColor("#ff6b5e" if dark else "#d93025")
        for dot in geometry.dots:
            p.setBrush(urgent if dot.urgent else text)
            p.setPen(QPen(base, 1.5))
            p.drawEllipse(QPointF(dot.x, dot.y), radius, radius)
        p.setBrush(Qt.BrushStyle.NoBrush)

    def _paint_legend(
        self,
        p: QPainter,
        geometry: ChartGeometry,
        styles: dict[str, tuple[QColor, Qt.PenStyle]],
        metrics: QFontMetrics,
        x0: float,
        text: QColor,
    ) -> None:
        sample = 18.0
        gap = 12.0
        labels = [line.label for line in geometry.lines]
        width = sum(sample + 4 + metrics.horizontalAdvance(t) + gap for t in labels)
        if width > self.width() - x0:
            labels = [line.short for line in geometry.lines]
        y = metrics.height() / 2 + 3
        x = x0
        for line, label in zip(geometry.lines, labels, strict=True):
            color, style = styles[line.kind]
            p.setPen(QPen(color, 2, style))
            p.drawLine(QPointF(x, y), QPointF(x + sample, y))
            p.setPen(text)
            w = metrics.horizontalAdvance(label)
            p.drawText(
                QRectF(x + sample + 4, y - metrics.height() / 2, w + 2, metrics.height()),
                int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                label,
            )
            x += sample + 4 + w + gap


__all__ = ["ChartGeometry", "TrendChart", "chart_geometry"]
