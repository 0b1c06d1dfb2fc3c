"""The DDT poster: its QR code (segno) and its PDF (fpdf2), in the four languages at once."""

import io
import unicodedata
from pathlib import Path

import segno
from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from fpdf import FPDF

from employers.models import WorkDeclaration
from geo.addresses import format_address

POSTER_LANGUAGES = ("fr", "nl", "de", "en")
# A Unicode font if the system has one (Debian's fonts-dejavu-core, installed by the
# Dockerfile); otherwise Helvetica with the text reduced to Latin-1.
FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/TTF/DejaVuSans.ttf"),
)


def qr_url(declaration: WorkDeclaration) -> str:
    return settings.SITE_ROOT + reverse("qr_entry", args=[declaration.number])


def qr_png(url: str, scale: int = 10) -> bytes:
    out = io.BytesIO()
    # Error correction M and a quiet zone of 4 modules: readable on a worn, folded poster.
    segno.make_qr(url, error="m").save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


def site_address(declaration: WorkDeclaration) -> str:
    return format_address(
        declaration.street,
        declaration.house_number,
        declaration.box,
        declaration.postal_code,
        declaration.municipality,
    )


def poster_texts() -> list[dict]:
    """The poster's sentences in each language (from the catalogs)."""
    texts = []
    for language in POSTER_LANGUAGES:
        with translation.override(language):
            texts.append(
                {
                    "language": language,
                    "title": _("Register your work here"),
                    "step1": _("1. Scan this QR code with your smartphone's camera."),
                    "step2": _(
                        "2. Log in, then tap IN when you start and OUT when you stop working."
                    ),
                }
            )
    return texts


def _font(pdf: FPDF) -> tuple[str, bool]:
    for path in FONT_CANDIDATES:
        if path.exists():
            pdf.add_font("clao", "", str(path))
            return "clao", True
    return "helvetica", False


def _latin1(text: str) -> str:
    """What Helvetica can print: accents kept where Latin-1 has them, others stripped."""
    out = []
    for char in text:
        try:
            char.encode("latin-1")
            out.append(char)
        except UnicodeEncodeError:
            base = unicodedata.normalize("NFKD", char).encode("latin-1", "ignore").decode()
            out.append(base or "?")
    return "".join(out)


def poster_pdf(declaration: WorkDeclaration) -> bytes:
    url = qr_url(declaration)
    pdf = FPDF(format="A4")
    pdf.set_title(f"ClaO - {declaration.number}")
    pdf.set_auto_page_break(False)
    pdf.add_page()
    family, unicode_ok = _font(pdf)
    text = (lambda s: s) if unicode_ok else _latin1
    width = pdf.w - 2 * pdf.l_margin
    pdf.set_font(family, size=22)
    titles = " / ".join(t["title"] for t in poster_texts())
    pdf.multi_cell(width, 10, text(titles), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font(family, size=14)
    pdf.multi_cell(
        width, 7, text(declaration.employer.name), align="C", new_x="LMARGIN", new_y="NEXT"
    )
    pdf.multi_cell(
        width, 7, text(site_address(declaration)), align="C", new_x="LMARGIN", new_y="NEXT"
    )
    pdf.set_font(family, size=11)
    pdf.multi_cell(width, 6, f"DDT {declaration.number}", align="C", new_x="LMARGIN", new_y="NEXT")
    size = 90
    pdf.image(io.BytesIO(qr_png(url)), x=(pdf.w - size) / 2, y=pdf.get_y() + 3, w=size, h=size)
    pdf.set_y(pdf.get_y() + size + 6)
    pdf.set_font(family, size=12)
    # A link too: the PDF opened on a phone or a computer leads to the same page.
    pdf.multi_cell(width, 6, url, align="C", new_x="LMARGIN", new_y="NEXT", link=url)
    pdf.ln(3)
    pdf.set_font(family, size=10)
    for texts in poster_texts():
        pdf.multi_cell(
            width,
            5,
            text(f"{texts['step1']}\n{texts['step2']}"),
            new_x="LMARGIN",
            new_y="NEXT",
        )
        pdf.ln(2)
    return bytes(pdf.output())
