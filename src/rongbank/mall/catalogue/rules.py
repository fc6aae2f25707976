"""Pure catalogue rules: search tokens and queries, page cursors, and the CSV
import's rows. No I/O, no clock."""

from __future__ import annotations

import base64
import csv
import io
import re
from dataclasses import dataclass, field
from typing import Literal

from rongbank.chat import rules as chat_rules
from rongbank.chat.media import text_charset
from rongbank.errors import DomainError
from rongbank.mall.catalogue.errors import SearchCursorInvalid
from rongbank.money import parse_positive_amount

Sort = Literal["relevance", "price_asc", "price_desc", "newest"]
SORTS: tuple[Sort, ...] = ("relevance", "price_asc", "price_desc", "newest")
MAX_PRICE = 100_000_000_000
"""The highest SKU price the schema takes (fen)."""


def tokens(text: str) -> list[str]:
    """A product text's search tokens: chat search's single Han characters and
    bigrams, and Latin words and numbers (``rongbank.chat.rules.search_tokens``), each
    once."""
    return list(dict.fromkeys(chat_rules.search_tokens(text)))


MAX_POSITION = 16383
"""The largest position PostgreSQL keeps in a tsvector."""


def search_vector(title: str, other: str) -> str:
    """The product's tsvector, as text: the title's tokens weighted ``A`` and the
    rest's ``B``. Positions are given because PostgreSQL keeps weights on positions:
    a tsvector made without them (``array_to_tsvector``) ranks every match alike."""
    parts: list[str] = []
    position = 0
    for weight, source in (("A", title), ("B", other)):
        for token in tokens(source):
            position = min(position + 1, MAX_POSITION)
            parts.append(f"'{token}':{position}{weight}")
    return " ".join(parts)


def tsquery(query: str) -> str | None:
    """The tsquery every match must satisfy: each bigram of the query's Han runs and
    each of its words (None when the query has nothing to search for). Tokens are only
    letters, digits and Han characters, so quoting them is safe."""
    found = chat_rules.query_tokens(query)
    return " & ".join(f"'{t}'" for t in found) if found else None


# -- cursors ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where the next page starts: after the row with this sort key and id."""

    sort: Sort
    key: float | int | None
    id: int

    def encode(self) -> str:
        raw = f"{self.sort}|{'' if self.key is None else self.key!r}|{self.id}"
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, sort: Sort) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
            name, key, row_id = raw.split("|")
            if name != sort:
                raise ValueError("a cursor of another sort")
            value: float | int | None
            if sort == "relevance":
                value = float(key)
            elif sort in ("price_asc", "price_desc"):
                value = int(key)
            else:
                value = None
            return cls(sort, value, int(row_id))
        except (ValueError, UnicodeDecodeError):
            raise SearchCursorInvalid() from None


# -- CSV import ------------------------------------------------------------------------

COLUMNS = (
    "product",
    "title",
    "category",
    "description",
    "attributes",
    "sku",
    "options",
    "price",
    "stock",
    "publish",
)
"""The import file's columns, in its header row (any order; ``description``,
``attributes``, ``options`` (the SKU's attributes) and ``publish`` may be left out). One row is one
SKU; rows with the same ``product`` (the seller's own reference) are one product,
whose title, category, description and attributes the first of them gives."""
REQUIRED = ("product", "title", "category", "sku", "price", "stock")
MAX_ROWS = 5000
MAX_BYTES = 2 * 1024 * 1024
_ATTRIBUTE = re.compile(r"^\s*([^=;]{1,40}?)\s*=\s*([^=;]{1,200}?)\s*$")
_YES = {"", "no", "n", "0", "否"}


PROBLEMS = {
    "not_text": "the file is not text in UTF-8 or GB18030",
    "too_large": f"the file is larger than {MAX_BYTES // (1024 * 1024)} MiB",
    "columns": "missing or unknown columns",
    "too_many_rows": f"at most {MAX_ROWS} rows in one file",
    "extra_values": "more values than columns",
    "no_rows": "the file has no rows",
    "empty": "must not be empty",
    "too_long": "too long",
    "attributes": "write attributes as name=value; name=value",
    "price": "a price in yuan above zero, such as 12.30",
    "stock": "a whole number of units, 0 or more",
    "sku_repeated": "this product already has this SKU code in the file",
    "category": "no category has this code",
}
"""What can be wrong with an import file or a row: code -> what it means (pages say
it in the reader's language by the code)."""


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    """The line of the file (the header is line 1)."""
    column: str
    problem: str
    """A key of :data:`PROBLEMS`."""
    detail: str = ""

    @property
    def message(self) -> str:
        return PROBLEMS[self.problem] + (f": {self.detail}" if self.detail else "")


@dataclass(slots=True)
class ImportedSku:
    code: str
    attributes: dict[str, str]
    price: int
    stock: int


@dataclass(slots=True)
class ImportedProduct:
    reference: str
    line: int
    title: str
    category: str
    description: str
    attributes: dict[str, str]
    publish: bool
    skus: list[ImportedSku] = field(default_factory=list)


def parse_attributes(text: str) -> dict[str, str]:
    """``颜色=黑色; 尺码=XL`` -> {"颜色": "黑色", "尺码": "XL"}."""
    found: dict[str, str] = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        match = _ATTRIBUTE.match(part)
        if match is None:
            raise ValueError("write attributes as name=value; name=value")
        found[match.group(1)] = match.group(2)
    return found


def decode_csv(data: bytes) -> str:
    """The file's text: UTF-8 (with or without a byte order mark) or GB18030, what
    Excel on Chinese Windows writes; anything else is refused."""
    if len(data) > MAX_BYTES:
        raise ValueError("too_large")
    charset = text_charset(data)
    if charset is None:
        raise ValueError("not_text")
    return data.decode("utf-8-sig" if charset == "utf-8" else charset)


def parse_csv(data: bytes) -> tuple[list[ImportedProduct], list[RowError]]:
    """The products of an import file, or every error found (all rows are checked,
    so the seller fixes them at once). The category is checked by the caller."""
    try:
        content = decode_csv(data)
    except ValueError as problem:
        return [], [RowError(1, "", str(problem))]  # its code
    reader = csv.DictReader(io.StringIO(content, newline=""))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c not in COLUMNS]
    if missing or unknown:
        return [], [RowError(1, "", "columns", ", ".join([*missing, *unknown]))]
    reader.fieldnames = header
    products: dict[str, ImportedProduct] = {}
    errors: list[RowError] = []
    count = 0
    for row in reader:
        line = reader.line_num
        count += 1
        if count > MAX_ROWS:
            errors.append(RowError(line, "", "too_many_rows"))
            break
        if None in row:
            errors.append(RowError(line, "", "extra_values"))
            continue
        values = {k: (v or "").strip() for k, v in row.items()}
        _parse_row(values, line, products, errors)
    if not products and not errors:
        errors.append(RowError(1, "", "no_rows"))
    return list(products.values()), errors


def _parse_row(
    values: dict[str, str],
    line: int,
    products: dict[str, ImportedProduct],
    errors: list[RowError],
) -> None:
    def refuse(column: str, problem: str) -> None:
        errors.append(RowError(line, column, problem))

    before = len(errors)
    for column in REQUIRED:
        if not values.get(column):
            refuse(column, "empty")
    if len(errors) > before:
        return
    if len(values["title"]) > 120:
        refuse("title", "too_long")
    if len(values.get("description", "")) > 10000:
        refuse("description", "too_long")
    if len(values["sku"]) > 64:
        refuse("sku", "too_long")
    attributes: dict[str, str] = {}
    sku_attributes: dict[str, str] = {}
    for column in ("attributes", "options"):
        try:
            parsed = parse_attributes(values.get(column, ""))
        except ValueError:
            refuse(column, "attributes")
            continue
        if column == "attributes":
            attributes = parsed
        else:
            sku_attributes = parsed
    price = 0
    try:
        price = parse_positive_amount(values["price"], scale=2, currency="CNY")
        if price > MAX_PRICE:
            refuse("price", "price")
    except DomainError:
        refuse("price", "price")
    stock = -1
    if values["stock"].isascii() and values["stock"].isdigit() and len(values["stock"]) < 10:
        stock = int(values["stock"])
    else:
        refuse("stock", "stock")
    if len(errors) > before:
        return
    reference = values["product"]
    product = products.get(reference)
    if product is None:
        product = products[reference] = ImportedProduct(
            reference=reference,
            line=line,
            title=values["title"],
            category=values["category"],
            description=values.get("description", ""),
            attributes=attributes,
            publish=values.get("publish", "").lower() not in _YES,
        )
    if any(s.code == values["sku"] for s in product.skus):
        refuse("sku", "sku_repeated")
        return
    product.skus.append(ImportedSku(values["sku"], sku_attributes, price, stock))
