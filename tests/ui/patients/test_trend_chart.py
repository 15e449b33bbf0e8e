"""The trend chart: geometry worked out as numbers (bands, the three reference lines, dated
points), and the widget painting it light, dark and small, with an accessible summary."""

from __future__ import annotations

import datetime as dt

import pytest
from PySide6.QtGui import QColor, QPalette
from pytestqt.qtbot import QtBot

from ketadesk.services.common.context import Actor
from ketadesk.services.monitoring import measurements
from ketadesk.services.monitoring.measurements import MeasureTrend
from ketadesk.ui.patients.trend_chart import TrendChart, chart_geometry
from tests.clinic_fixtures import SmallClinic
from tests.ui.conftest import NOW

NURSE = Actor(user_id=None, username="kim", role="nurse")


@pytest.fixture
def trend(clinic: SmallClinic) -> MeasureTrend:
    """Ada's PHQ-9 over three weeks: 18, 12, 8, 4 (a response, then remission)."""
    ada = clinic.ids["Ada Lovelace"]
    for weeks, answers in enumerate(
        ([2] * 8 + [2], [2] * 6 + [0] * 3, [1] * 8 + [0], [1] * 4 + [0] * 5)
    ):
        measurements.save_measurement(
            clinic.db,
            NURSE,
            ada,
            "phq9",
            answers,
            taken_at=NOW - dt.timedelta(weeks=3 - weeks),
            now=NOW,
        )
    return measurements.measure_trend(clinic.db, NURSE, ada, "phq9")


def test_geometry_places_lines_bands_and_points(trend: MeasureTrend) -> None:
    g = chart_geometry(trend, 400, 227, left=30, right=10, top=10, bottom=20)
    x0, y0, x1, y1 = g.plot
    assert (x0, y0, x1, y1) == (30, 10, 390, 207)
    per_point = (y1 - y0) / 27
    lines = {line.kind: line for line in g.lines}
    assert lines["baseline"].value == 18
    assert lines["baseline"].y == pytest.approx(y1 - 18 * per_point)
    assert lines["response"].value == 9
    assert lines["remission"].value == 5
    assert lines["remission"].y == pytest.approx(y1 - 4.5 * per_point)
    assert [d.total for d in g.dots] == [18, 12, 8, 4]
    assert all(a.x < b.x for a, b in zip(g.dots, g.dots[1:], strict=False))
    assert g.dots[-1].y > lines["remission"].y  # below the remission line on screen
    assert [b.label for b in g.bands] == [
        "minimal",
        "mild",
        "moderate",
        "moderately severe",
        "severe",
    ]
    assert g.bands[0].bottom == pytest.approx(y1)
    assert g.bands[-1].top == pytest.approx(y0)
    assert g.x_ticks[0][1] == "Nov 3"


def test_a_single_score_sits_in_the_middle(clinic: SmallClinic) -> None:
    ada = clinic.ids["Ada Lovelace"]
    measurements.save_measurement(clinic.db, NURSE, ada, "gad7", [1] * 7, now=NOW)
    g = chart_geometry(measurements.measure_trend(clinic.db, NURSE, ada, "gad7"), 300, 200)
    assert len(g.dots) == 1
    x0, _, x1, _ = g.plot
    assert g.dots[0].x == pytest.approx((x0 + x1) / 2)


def _ink(chart: TrendChart) -> set[int]:
    image = chart.grab().toImage()
    return {
        image.pixel(x, y) for x in range(0, image.width(), 3) for y in range(0, image.height(), 3)
    }


def test_chart_paints_and_summarises_for_screen_readers(qtbot: QtBot, trend: MeasureTrend) -> None:
    chart = TrendChart()
    qtbot.addWidget(chart)
    chart.resize(520, 260)
    chart.show()
    empty = _ink(chart)
    chart.set_trend(trend)
    assert chart.accessibleName() == "PHQ-9 trend"
    assert chart.accessibleDescription() == (
        "PHQ-9: 4 scores, baseline 18 on Nov 3, 2026, latest 4 (minimal) on Nov 24, 2026, "
        "change -78%, in remission"
    )
    assert len(_ink(chart)) > len(empty) + 10  # bands, lines and points were painted


def test_chart_reads_in_a_dark_palette_and_when_small(qtbot: QtBot, trend: MeasureTrend) -> None:
    chart = TrendChart()
    qtbot.addWidget(chart)
    palette = chart.palette()
    palette.setColor(QPalette.ColorRole.Base, QColor("#1e1f22"))
    palette.setColor(QPalette.ColorRole.Text, QColor("#e8e8e8"))
    chart.setPalette(palette)
    chart.set_trend(trend)
    chart.resize(chart.minimumSizeHint())
    chart.show()
    image = chart.grab().toImage()
    assert QColor(image.pixel(1, 1)).lightness() < 80  # the dark base, not a light fill
    assert len(_ink(chart)) > 10


def test_no_scores_says_so(qtbot: QtBot, clinic: SmallClinic) -> None:
    chart = TrendChart()
    qtbot.addWidget(chart)
    chart.set_trend(
        measurements.measure_trend(clinic.db, NURSE, clinic.ids["Mary Seacole"], "phq9")
    )
    assert chart.accessibleDescription() == "PHQ-9: no scores yet"
    chart.show()
    chart.grab()
