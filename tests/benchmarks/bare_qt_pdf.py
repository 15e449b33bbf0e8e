"""The speed limit for printing: a bare PySide6 program writing a 60-row table to a PDF.

``ketadesk print day`` does the same job on a real clinic (reading it, laying it out, recording
the disclosure); their ratio is the printing figure of tests/benchmarks/test_print_bench.py.
"""

import sys

from PySide6.QtGui import QGuiApplication, QPageSize, QPdfWriter, QTextDocument

app = QGuiApplication(sys.argv[:1])
rows = "".join(
    f"<tr><td>{9 + r // 8}:{(r % 8) * 7:02d}</td><td>Patient {r}, Chart HK-{10000 + r}</td>"
    f"<td>IV infusion, series {r % 6 + 1}/6</td><td>Room {r % 6 + 1}</td>"
    f"<td>Monitor M{r % 4}<br/>Driver: someone, 555-0100</td></tr>"
    for r in range(60)
)
document = QTextDocument()
document.setHtml(f"<h1>Day sheet</h1><table border='1' cellpadding='4'>{rows}</table>")
writer = QPdfWriter(sys.argv[1] if len(sys.argv) > 1 else "/dev/null")
writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
document.print_(writer)
