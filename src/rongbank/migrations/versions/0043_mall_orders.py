"""融e购 e-Mall: carts, checkouts, orders per seller, returns and reviews.

- ``mall_cart_line``: what a customer means to buy, a quantity per SKU.
- ``mall_checkout``: one cart bought: its stock reserved (taken off ``mall_sku.stock``
  in the checkout's transaction), one e-Pay order of the mall's clearing merchant for
  the whole amount (``payment_id``), paid by e-Pay or 逸贷 instalments; a checkout not
  paid by ``reserved_until`` (and its e-Pay order no longer payable) is expired and its
  units put back. ``client_id``: the customer's key, one checkout per key.
- ``mall_order``: the checkout's part of one shop (one per seller), with its
  fulfilment (carrier, tracking number, shipped, received) and its settlement: once
  received and past the return window, ``released`` moves what it kept from the
  mall's clearing to the seller's e-Pay payable, less the commission
  (``release_entry_id``; ``seller_payment_id``: the e-Pay payment row through which
  the seller's e-Pay settlement takes it).
- ``mall_order_line``: a SKU bought, its price, title and the category's commission
  as they were at checkout.
- ``mall_return``, ``mall_return_line``: a return of (part of) an order's lines,
  agreed by the seller or ruled by operations in a dispute; refunded through e-Pay
  (``refund_id``), which unwinds a 逸贷 plan.
- ``mall_review``: one review per received line.
- B2B: ``mall_enterprise_member``: an enterprise customer's people who buy for it
  (``purchaser``) and approve what they buy (``approver``); a purchaser's checkout for
  the enterprise (``mall_checkout.enterprise_id``) waits for an approver
  (``approval``), who pays it from the enterprise's own e-account.

Revision ID: 0043_mall_orders
"""

from alembic import op

revision = "0043_mall_orders"
down_revision = "0042_mall_shop"
branch_labels = None
depends_on = None
serves_older_code = False

SCHEMA = """
CREATE TABLE mall_cart_line (
    customer_id bigint NOT NULL REFERENCES customer (id),
    sku_id      bigint NOT NULL REFERENCES mall_sku (id),
    quantity    integer NOT NULL CHECK (quantity BETWEEN 1 AND 999),
    added_at    timestamptz NOT NULL,
    PRIMARY KEY (customer_id, sku_id)
);

CREATE TABLE mall_checkout (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id    bigint NOT NULL REFERENCES customer (id),
    client_id      text NOT NULL CHECK (length(client_id) BETWEEN 1 AND 64),
    status         text NOT NULL CHECK (status IN ('reserved', 'paid', 'expired')),
    amount         bigint NOT NULL CHECK (amount >= 0),
    payment_id     bigint UNIQUE REFERENCES payment (id),
    paid_by        text CHECK (paid_by IN ('epay', 'yidai')),
    reserved_until timestamptz NOT NULL,
    created_at     timestamptz NOT NULL,
    paid_at        timestamptz,
    enterprise_id  bigint REFERENCES customer (id),
    approval       text CHECK (approval IN ('awaiting', 'approved', 'refused')),
    approved_by    bigint REFERENCES customer (id),
    CHECK ((enterprise_id IS NULL) = (approval IS NULL)),
    UNIQUE (customer_id, client_id)
);
CREATE INDEX mall_checkout_approval ON mall_checkout (enterprise_id, id)
    WHERE approval = 'awaiting';

CREATE TABLE mall_enterprise_member (
    enterprise_id bigint NOT NULL REFERENCES customer (id),
    customer_id   bigint NOT NULL REFERENCES customer (id),
    role          text NOT NULL CHECK (role IN ('purchaser', 'approver')),
    added_at      timestamptz NOT NULL,
    PRIMARY KEY (enterprise_id, customer_id, role)
);
CREATE INDEX mall_checkout_reserved ON mall_checkout (reserved_until) WHERE status = 'reserved';

CREATE TABLE mall_order (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    checkout_id       bigint NOT NULL REFERENCES mall_checkout (id),
    shop_id           bigint NOT NULL REFERENCES mall_shop (id),
    customer_id       bigint NOT NULL REFERENCES customer (id),
    order_no          text NOT NULL UNIQUE,
    status            text NOT NULL CHECK (status IN
        ('reserved', 'paid', 'shipped', 'received', 'released', 'closed', 'expired')),
    amount            bigint NOT NULL CHECK (amount > 0),
    refunded          bigint NOT NULL DEFAULT 0 CHECK (refunded BETWEEN 0 AND amount),
    commission        bigint NOT NULL DEFAULT 0 CHECK (commission >= 0),
    carrier           text CHECK (length(carrier) BETWEEN 1 AND 40),
    tracking_no       text CHECK (length(tracking_no) BETWEEN 1 AND 40),
    created_at        timestamptz NOT NULL,
    paid_at           timestamptz,
    shipped_at        timestamptz,
    received_at       timestamptz,
    released_at       timestamptz,
    release_entry_id  bigint REFERENCES ledger_entry (id),
    seller_payment_id bigint REFERENCES payment (id),
    UNIQUE (checkout_id, shop_id)
);
CREATE INDEX mall_order_shop ON mall_order (shop_id, id);
CREATE INDEX mall_order_customer ON mall_order (customer_id, id);
CREATE INDEX mall_order_shipped ON mall_order (shipped_at) WHERE status = 'shipped';
CREATE INDEX mall_order_received ON mall_order (received_at) WHERE status = 'received';

CREATE TABLE mall_order_line (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id      bigint NOT NULL REFERENCES mall_order (id),
    sku_id        bigint NOT NULL REFERENCES mall_sku (id),
    title         text NOT NULL,
    quantity      integer NOT NULL CHECK (quantity > 0),
    unit_price    bigint NOT NULL CHECK (unit_price > 0),
    commission_bp integer NOT NULL CHECK (commission_bp BETWEEN 0 AND 5000),
    returned      integer NOT NULL DEFAULT 0,
    CHECK (returned BETWEEN 0 AND quantity),
    UNIQUE (order_id, sku_id)
);

CREATE TABLE mall_return (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id     bigint NOT NULL REFERENCES mall_order (id),
    customer_id  bigint NOT NULL REFERENCES customer (id),
    status       text NOT NULL CHECK (status IN
        ('requested', 'refused', 'disputed', 'refunded', 'rejected')),
    amount       bigint NOT NULL CHECK (amount > 0),
    reason       text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    created_at   timestamptz NOT NULL,
    decided_at   timestamptz,
    decided_by   text,
    refund_id    bigint REFERENCES payment_refund (id)
);
CREATE INDEX mall_return_order ON mall_return (order_id);
CREATE INDEX mall_return_disputed ON mall_return (id) WHERE status = 'disputed';

CREATE TABLE mall_return_line (
    return_id bigint NOT NULL REFERENCES mall_return (id),
    line_id   bigint NOT NULL REFERENCES mall_order_line (id),
    quantity  integer NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (return_id, line_id)
);

CREATE TABLE mall_review (
    line_id     bigint PRIMARY KEY REFERENCES mall_order_line (id),
    customer_id bigint NOT NULL REFERENCES customer (id),
    rating      smallint NOT NULL CHECK (rating BETWEEN 1 AND 5),
    body        text NOT NULL DEFAULT '' CHECK (length(body) <= 1000),
    created_at  timestamptz NOT NULL
);
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(
        "DROP TABLE mall_enterprise_member, mall_review, mall_return_line, mall_return, "
        "mall_order_line, mall_order, mall_checkout, mall_cart_line;"
    )
