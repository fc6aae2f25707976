"""Grid cards: each position is asked once, never again.

``grid_card_code.asked_at`` records when a position was first asked; a challenge
takes only positions never asked, under the card's row lock, so two challenges
opened at once never share one. That makes ``grid_card_combination`` (which only
kept a combination of positions from being asked twice) redundant: its positions are
carried over as asked, then it is dropped. A live card with fewer than three
positions left is expired, as the card that asked its last ones would be now.

Revision ID: 0020_grid_positions
"""

from alembic import op

revision = "0020_grid_positions"
down_revision = "0019_wealth_value_dates"
branch_labels = None
depends_on = None
serves_older_code = False

SCHEMA = """
ALTER TABLE grid_card_code ADD COLUMN asked_at timestamptz;

UPDATE grid_card_code c SET asked_at = now()
FROM grid_card_combination k
WHERE k.tool_id = c.tool_id AND c.position = ANY (string_to_array(k.combination, ','));

UPDATE auth_tool t SET status = 'expired', ended_at = now()
WHERE t.kind = 'grid_card' AND t.status IN ('active', 'blocked')
  AND (SELECT count(*) FROM grid_card_code c WHERE c.tool_id = t.id AND c.asked_at IS NULL) < 3;

DROP TABLE grid_card_combination;
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(
        """
CREATE TABLE grid_card_combination (
    tool_id     bigint NOT NULL REFERENCES auth_tool (id),
    combination text NOT NULL,
    PRIMARY KEY (tool_id, combination)
);
ALTER TABLE grid_card_code DROP COLUMN asked_at;
"""
    )
