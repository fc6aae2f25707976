"""融e购 e-Mall: the catalogue (``catalogue``) and buying from it (``orders``)."""
