"""The risk centre: what the bank watches to stay safe (fraud, watch lists, liquidity)."""
