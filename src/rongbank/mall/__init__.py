"""融e购 e-Mall: the bank's marketplace (``catalogue``: shops, products, search;
``orders``: carts, checkout, orders)."""
