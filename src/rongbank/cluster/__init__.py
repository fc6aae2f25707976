"""The bank as a cluster on one machine (``rongbank cluster up``): etcd, PostgreSQL
members managed by Patroni with synchronous replication, API processes behind
HAProxy, and a NATS cluster for chat. ``deploy/`` runs the same parts on separate
hosts; this package is what the tests and the failover benchmark start."""
