"""PDF -> Document, parsed in a sandboxed child process.

- ``sandbox``: child processes under time and memory limits (``parse_many``, ``parse_pdf``);
- ``document``: the parse itself, pages -> a Document (``parse_pdf_inprocess``);
- ``spans``: PyMuPDF's spans -> visible rows per page (invisible text and a scan's OCR layer);
  the only module that imports pymupdf;
- ``layout``: rows and blocks, running headers and footers, reading order;
- ``headings``: which rows are section headings;
- ``frontmatter``: title, authors and the arXiv stamp of page 1.
"""

from .document import parse_pdf_inprocess
from .sandbox import parse_many, parse_pdf

__all__ = ["parse_many", "parse_pdf", "parse_pdf_inprocess"]
