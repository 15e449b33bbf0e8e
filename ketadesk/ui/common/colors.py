"""Colour arithmetic over the palette, for widgets that paint by hand or tint their text: one
colour mixed over another, and whether the palette is a dark one."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette


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
