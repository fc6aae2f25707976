"""What the bank's documents share, whichever domain prints them (account
statements, grid cards): the bank's name and a font with Chinese glyphs for PDFs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

BANK_NAME = "融银行 Rongbank"


@dataclass(frozen=True, slots=True)
class CjkFont:
    """A font file with Chinese glyphs; ``index`` picks the face in a collection."""

    path: Path
    index: int = 0


CJK_FONTS = (
    # Debian fonts-noto-cjk; the collection holds JP, KR, SC, TC, HK faces in that
    # order, and index 2 is Simplified Chinese.
    CjkFont(Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"), 2),
    # Debian fonts-wqy-microhei, fonts-wqy-zenhei.
    CjkFont(Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"), 0),
    CjkFont(Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"), 0),
)


def find_cjk_font() -> CjkFont:
    for font in CJK_FONTS:
        if font.path.is_file():
            return font
    raise RuntimeError(
        "No Chinese font for PDF statements: install Debian's fonts-noto-cjk "
        "(or fonts-wqy-microhei)."
    )
