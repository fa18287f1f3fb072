"""The generated hand-in report: run folders -> report.pdf (fpdf2) and a self-contained report.html (MathML)."""

from nndl.report.answers import Answer, Check
from nndl.report.build import COVERAGE, Written, coverage_list, write_report
from nndl.report.collect import RUN_SUMMARY, collect, listing
from nndl.report.coverage import master_list
from nndl.report.html import html_page
from nndl.report.pdf import pdf_bytes, pdf_document

__all__ = ["COVERAGE", "RUN_SUMMARY", "Answer", "Check", "Written", "collect", "coverage_list", "html_page", "listing",
           "master_list", "pdf_bytes", "pdf_document", "write_report"]
