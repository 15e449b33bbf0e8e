"""Window sizing that every dialog shares: a fixed minimum size instead of one the layout works
out (and pushes to the platform) on every change."""

from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtWidgets import QLayout, QWidget


def fixed_minimum(widget: QWidget, size: QSize) -> None:
    """Fix a window's minimum size instead of deriving it from the layout: a layout-driven
    minimum is pushed to the platform window on every change (a message or an error label
    appearing), which the offscreen platform (screenshots, tests) answers with a warning."""
    layout = widget.layout()
    if layout is not None:
        layout.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
    widget.setMinimumSize(size)
