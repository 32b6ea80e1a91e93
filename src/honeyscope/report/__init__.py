"""Reports for managers and partner CERTs: ``honeyscope report`` (docs/report.md).

    data = gather(store, date(2021, 3, 1), date(2021, 3, 31), tlp="amber")
    html = render_html(data)                       # one self-contained file, no script
    print_pdf(path_of_html, out_pdf, find_chromium())  # headless Chromium
    write_csv(csv_path, data)                      # the indicator table, formula-guarded

``gather`` reads the store (roll-ups, one pass over the period's events, trends, attribution); ``html``
renders; ``pdf`` prints; ``indicators`` builds the indicator table and its CSV.
"""

from honeyscope.report.gather import TREND_DIMENSIONS, gather
from honeyscope.report.html import TLP_COLOURS, render_html, tlp_label
from honeyscope.report.indicators import write_csv
from honeyscope.report.model import DataSource, ObservedIndicator, ReportData, SourceIndicator, TrendSection
from honeyscope.report.pdf import PdfError, find_chromium, print_pdf

__all__ = [
    "TLP_COLOURS",
    "TREND_DIMENSIONS",
    "DataSource",
    "ObservedIndicator",
    "PdfError",
    "ReportData",
    "SourceIndicator",
    "TrendSection",
    "find_chromium",
    "gather",
    "print_pdf",
    "render_html",
    "tlp_label",
    "write_csv",
]
