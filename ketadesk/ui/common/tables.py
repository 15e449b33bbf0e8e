"""The record lists of the desk's windows (fees, waitlist, recall lists): one way to make them."""

from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget


def record_table(
    parent: QWidget,
    *,
    name: str,
    label: str,
    model: QAbstractItemModel | None = None,
    stretch: int | None = None,
) -> QTableView:
    """A read-only table of records, one whole row selected at a time, striped, without row
    numbers.  ``name``: its object name (tests and settings find it by it); ``label``: what a
    screen reader says.  With ``model``, its columns fit their contents and ``stretch`` (a
    column) takes the width left over (a header sizes only the sections a model gave it)."""
    table = QTableView(parent)
    table.setObjectName(name)
    table.setAccessibleName(label)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setAlternatingRowColors(True)
    table.verticalHeader().hide()
    if model is not None:
        table.setModel(model)
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        if stretch is not None:
            header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    return table
