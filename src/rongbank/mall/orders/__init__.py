"""融e购 buying: carts, checkout, orders per seller, fulfilment, returns, settlement."""
