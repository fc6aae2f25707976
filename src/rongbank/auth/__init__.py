"""Authentication: login names and passwords, lockout after repeated failures, and
bearer sessions with an inactivity and an absolute timeout.

A *principal* is who is authenticated: a customer or a member of staff, by kind and
id. A *credential* is a principal's login name and password hash (one per
principal). A *session* is what a successful login opens: the client holds a random
bearer token, the bank keeps only its SHA-256.
"""
