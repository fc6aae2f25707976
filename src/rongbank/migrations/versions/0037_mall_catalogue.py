"""融e购 e-Mall: shops, categories, products and their SKUs.

The catalogue's core, which both the shop side (catalogue, search, seller console) and
the buying side (cart, checkout, orders) build on:

- ``mall_shop``: an active e-Pay merchant's shop: its owner asks for it
  (``requested_by``, a merchant user), operations approve it (``approved_by``).
- ``mall_category``: a tree of categories, each with the mall's commission in basis
  points of what its lines sell for.
- ``mall_product``: what a shop sells, published or not; ``attributes`` are the
  product's properties (brand, material...) as a JSON object.
- ``mall_sku``: one buyable variant of a product (colour, size...), with its price in
  fen and the units on hand. ``stock`` is what may still be sold: checkout takes units
  off it with ``UPDATE ... SET stock = stock - n WHERE stock >= n`` inside its
  transaction, so the CHECK below makes overselling impossible whatever the
  concurrency, and an expired reservation puts them back.

Revision ID: 0037_mall_catalogue
"""

from alembic import op

revision = "0037_mall_catalogue"
down_revision = "0036_lending_portfolio"
branch_labels = None
depends_on = None
serves_older_code = False

SCHEMA = """
CREATE TABLE mall_shop (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id  bigint NOT NULL UNIQUE REFERENCES merchant (id),
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 60),
    description  text NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
    status       text NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'open', 'refused', 'suspended', 'closed')),
    requested_by bigint NOT NULL REFERENCES merchant_user (id),
    approved_by  bigint REFERENCES staff (id),
    created_at   timestamptz NOT NULL,
    approved_at  timestamptz
);

CREATE TABLE mall_category (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id     bigint REFERENCES mall_category (id),
    code          text NOT NULL UNIQUE CHECK (code ~ '^[a-z0-9][a-z0-9-]{0,39}$'),
    name_zh       text NOT NULL CHECK (length(name_zh) BETWEEN 1 AND 40),
    name_en       text NOT NULL CHECK (length(name_en) BETWEEN 1 AND 60),
    commission_bp integer NOT NULL CHECK (commission_bp BETWEEN 0 AND 5000)
);

CREATE TABLE mall_product (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id     bigint NOT NULL REFERENCES mall_shop (id),
    category_id bigint NOT NULL REFERENCES mall_category (id),
    title       text NOT NULL CHECK (length(title) BETWEEN 1 AND 120),
    description text NOT NULL DEFAULT '' CHECK (length(description) <= 10000),
    attributes  jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(attributes) = 'object'),
    status      text NOT NULL DEFAULT 'draft'
                CHECK (status IN ('draft', 'published', 'unpublished')),
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX mall_product_shop ON mall_product (shop_id, id);
CREATE INDEX mall_product_category ON mall_product (category_id, id) WHERE status = 'published';

CREATE TABLE mall_sku (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id bigint NOT NULL REFERENCES mall_product (id),
    code       text NOT NULL CHECK (length(code) BETWEEN 1 AND 64),
    attributes jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(attributes) = 'object'),
    price      bigint NOT NULL CHECK (price > 0 AND price <= 100000000000),
    stock      integer NOT NULL CHECK (stock >= 0),
    active     boolean NOT NULL DEFAULT true,
    UNIQUE (product_id, code)
);
CREATE INDEX mall_sku_product ON mall_sku (product_id);
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute("DROP TABLE mall_sku, mall_product, mall_category, mall_shop;")
