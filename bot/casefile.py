"""A case's export as a file: JSON (machine-readable), HTML (the project's Jinja2 templates,
``<locale>/documents/casefile.html``) or PDF (that HTML laid out by fpdf2). Issue 24.

The values come from ``commands.casefile.collect``; this module only turns them into bytes.
PDF: fpdf2 is pure Python (wheels of it, Pillow, fontTools and defusedxml; no system library),
where WeasyPrint needs Pango, which the slim container image does not have. fpdf2's built-in
fonts hold Latin-1 only: where a DejaVu Sans font is installed it is embedded (every
character), otherwise a character outside Latin-1 is written in its nearest Latin-1 form and
the document says that the JSON file is the complete record.
"""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path
from typing import Any

from bot.render import Renderer

FORMATS = ("json", "html", "pdf")
SUFFIXES = {".json": "json", ".html": "html", ".htm": "html", ".pdf": "pdf"}
UNICODE_FONTS = (Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
                 Path("/usr/share/fonts/TTF/DejaVuSans.ttf"))
_PLAIN = str.maketrans({"…": "...", "–": "-", "—": "-", "‘": "'", "’": "'", "“": '"',
                        "”": '"', "→": "->", "€": "EUR", "·": "-", "•": "-"})


def format_of(path: Path, given: str | None) -> str | None:
    """The format to write: ``given`` (one of ``FORMATS``), else by the file's suffix
    (``.json``, ``.html``/``.htm``, ``.pdf``); None when neither says."""
    return given or SUFFIXES.get(path.suffix.lower())


def as_json(export: dict[str, Any]) -> bytes:
    """The export as UTF-8 JSON, keys sorted, indented (stable for a diff)."""
    return (json.dumps(export, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()


def as_html(export: dict[str, Any], renderer: Renderer, locale: str, timezone: str) -> str:
    """The export as one HTML document in ``locale`` (``nl`` or ``en``), times in
    ``timezone``."""
    return renderer.document("casefile", {"export": export}, locale, timezone)


def as_pdf(export: dict[str, Any], renderer: Renderer, locale: str, timezone: str) -> bytes:
    """The export's HTML (``as_html``) laid out as a PDF by fpdf2 (A4)."""
    from fpdf import FPDF  # only the export needs it: not paid at start-up

    html = as_html(export, renderer, locale, timezone)
    body = re.search(r"<body>(.*)</body>", html, re.S)
    content = body.group(1) if body else html
    pdf = FPDF(format="A4")
    pdf.set_title(f"{export['case']['id']}")
    font = next((f for f in UNICODE_FONTS if f.exists()), None)
    if font is not None:
        for style, suffix in (("", ""), ("B", "-Bold"), ("I", "-Oblique"),
                              ("BI", "-BoldOblique")):
            face = font.with_name(f"{font.stem}{suffix}{font.suffix}")
            pdf.add_font("casefile", style=style, fname=str(face if face.exists() else font))
        pdf.set_font("casefile", size=9)
    else:
        pdf.set_font("helvetica", size=9)
        content = _latin1(content)
    pdf.add_page()
    pdf.write_html(content, font_family="casefile" if font is not None else "helvetica")
    return bytes(pdf.output())


def _latin1(text: str) -> str:
    """``text`` with each character outside Latin-1 replaced by its nearest Latin-1 form
    (typographic marks by ASCII ones, letters without their accents), else by "?"."""
    text = text.translate(_PLAIN)
    out = []
    for ch in text:
        if ord(ch) < 256:
            out.append(ch)
            continue
        plain = unicodedata.normalize("NFKD", ch).encode("latin-1", "ignore").decode("latin-1")
        out.append(plain or "?")
    return "".join(out)


def render(fmt: str, export: dict[str, Any], renderer: Renderer, locale: str,
           timezone: str) -> bytes:
    """The export in ``fmt`` (one of ``FORMATS``; ValueError otherwise), as bytes."""
    if fmt == "json":
        return as_json(export)
    if fmt == "html":
        return as_html(export, renderer, locale, timezone).encode()
    if fmt == "pdf":
        return as_pdf(export, renderer, locale, timezone)
    raise ValueError(f"format must be one of {', '.join(FORMATS)}")
