"""BERT grading helpers shared by the ``minbert`` and ``gsds-a4`` suites (one code base, one copy).

The ``gsds_a4`` suite reaches this package through its ``bertlib.py`` alias. Everything here runs in
the trusted process: ``reference`` is our own BERT, ``probes`` builds the student's objects inside the
sandbox through the RPC, ``bodies`` holds the comparisons each suite wraps in its own ``@check``.
"""
