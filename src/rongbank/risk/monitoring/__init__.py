"""How the fraud rules and the engine's scores perform, from the decisions the engine
recorded and the cases analysts closed: a rule's hits day by day with how many were
confirmed fraud (``rules``), and the drift of the score distribution (``drift``)."""
