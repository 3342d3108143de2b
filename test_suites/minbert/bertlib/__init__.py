"""BERT grading helpers shared by the ``minbert`` and ``gsds-a4`` suites (one code base, one copy).

The ``gsds-a4`` suite imports it as its own ``bertlib`` (its ``suite.toml`` declares ``shared``). Everything here runs in
the trusted process: ``reference`` is our own BERT, ``probes`` builds the student's objects inside the
sandbox through the RPC, ``bodies`` holds the comparisons each suite wraps in its own ``@check``.
"""
