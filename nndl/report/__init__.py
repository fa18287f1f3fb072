"""The generated hand-in report: run folders -> report.pdf and a self-contained report.html."""

from nndl.report.build import Written, write_report
from nndl.report.collect import RUN_SUMMARY, collect
from nndl.report.html import html_page
from nndl.report.pdf import pdf_bytes

__all__ = ["RUN_SUMMARY", "Written", "collect", "html_page", "pdf_bytes", "write_report"]
