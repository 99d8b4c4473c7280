"""The self-contained HTML report."""

from socialvalue.report.builder import ReportData, render_report, write_report

__all__ = ["ReportData", "render_report", "write_report"]
