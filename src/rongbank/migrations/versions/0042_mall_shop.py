"""融e购 e-Mall, the shop side: search, product images, CSV import runs, and the
price range of each product over its SKUs.

Built on the catalogue's core (``0037_mall_catalogue``), whose tables it extends:

- ``mall_product.search``: the product's search tokens (``rongbank.chat.rules``
  bigrams, as chat search has them: the embedded server ships no pg_trgm or Chinese
  parser), the title's weighted ``A`` and the description's and attributes' ``B``,
  written by the catalogue service with the product.
- ``mall_product.min_price`` / ``max_price``: the range of its active SKUs' prices,
  kept by a trigger on ``mall_sku`` that fires only when a price, the active flag or
  the set of SKUs changes (never on the stock updates of checkout), so that sorting
  by price and the price filter need no look at the SKUs for most products.
- Partial indexes over the published products, one per way the shop front sorts
  (newest, price), and the GIN index of the search tokens.
- ``mall_product_image``: images checked and re-encoded as chat attachments are
  (``rongbank.chat.media``), in the order the seller gave them.
- ``mall_import``: each CSV import that went in: who, when, how many rows and
  products (an import with a bad row is refused whole and leaves no run behind: the
  audit log keeps the refusal).
- ``mall_shop.decided_reason``: why operations refused (or suspended) a shop.
- ``mall_commission_change``: each change of a category's commission, with who made
  it and the rate before, so the rate any line sold at can be found again.

Revision ID: 0042_mall_shop
"""

from alembic import op

revision = "0042_mall_shop"
down_revision = "0041_lending_finish"
branch_labels = None
depends_on = None
serves_older_code = False

SCHEMA = """
ALTER TABLE mall_shop ADD COLUMN decided_reason text NOT NULL DEFAULT ''
    CHECK (length(decided_reason) <= 500);
CREATE INDEX mall_shop_status ON mall_shop (status, id);

ALTER TABLE mall_product
    ADD COLUMN search tsvector NOT NULL DEFAULT ''::tsvector,
    ADD COLUMN min_price bigint,
    ADD COLUMN max_price bigint;
CREATE INDEX mall_product_search ON mall_product USING gin (search)
    WHERE status = 'published';
CREATE INDEX mall_product_newest ON mall_product (id) WHERE status = 'published';
CREATE INDEX mall_product_price ON mall_product (min_price, id) WHERE status = 'published';
CREATE INDEX mall_product_price_span ON mall_product
    USING gist (int8range(min_price, max_price, '[]')) WHERE status = 'published';
CREATE INDEX mall_category_parent ON mall_category (parent_id);

CREATE FUNCTION mall_product_prices() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    target bigint := CASE WHEN TG_OP = 'DELETE' THEN OLD.product_id ELSE NEW.product_id END;
BEGIN
    UPDATE mall_product p SET min_price = r.lo, max_price = r.hi
    FROM (SELECT min(price) AS lo, max(price) AS hi FROM mall_sku
          WHERE product_id = target AND active) r
    WHERE p.id = target;
    RETURN NULL;
END $$;
CREATE TRIGGER mall_sku_prices AFTER INSERT OR DELETE OR UPDATE OF price, active, product_id
    ON mall_sku FOR EACH ROW EXECUTE FUNCTION mall_product_prices();

CREATE TABLE mall_product_image (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id     bigint NOT NULL REFERENCES mall_product (id),
    position       integer NOT NULL CHECK (position >= 0),
    content_type   text NOT NULL,
    name           text NOT NULL,
    size           integer NOT NULL CHECK (size > 0),
    sha256         bytea NOT NULL,
    width          integer NOT NULL,
    height         integer NOT NULL,
    content        bytea NOT NULL,
    thumbnail      bytea NOT NULL,
    thumbnail_type text NOT NULL,
    created_at     timestamptz NOT NULL
);
CREATE INDEX mall_product_image_product ON mall_product_image (product_id, position, id);

CREATE TABLE mall_import (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id    bigint NOT NULL REFERENCES mall_shop (id),
    by_user    bigint REFERENCES merchant_user (id),
    rows       integer NOT NULL CHECK (rows > 0),
    products   integer NOT NULL CHECK (products > 0),
    skus       integer NOT NULL CHECK (skus > 0),
    created_at timestamptz NOT NULL
);
CREATE INDEX mall_import_shop ON mall_import (shop_id, id);

CREATE TABLE mall_commission_change (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    category_id bigint NOT NULL REFERENCES mall_category (id),
    before_bp   integer,
    after_bp    integer NOT NULL,
    staff_id    bigint REFERENCES staff (id),
    at          timestamptz NOT NULL
);
CREATE INDEX mall_commission_change_category ON mall_commission_change (category_id, id);
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(
        "DROP TABLE mall_commission_change, mall_import, mall_product_image; "
        "DROP TRIGGER mall_sku_prices ON mall_sku; DROP FUNCTION mall_product_prices(); "
        "DROP INDEX mall_category_parent, mall_shop_status; "
        "ALTER TABLE mall_product DROP COLUMN search, DROP COLUMN min_price, "
        "DROP COLUMN max_price; ALTER TABLE mall_shop DROP COLUMN decided_reason;"
    )
