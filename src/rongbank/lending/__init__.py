"""Online financing centre (网络融资中心): products, decisions, loans, credit models."""
