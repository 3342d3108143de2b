"""The data every zone shares: the grade report, check visibility, the suite manifest and sandbox limits.

A neutral zone: these modules hold pydantic models and import nothing from ``grader.api``, ``engine``,
``worker``, ``store`` or ``sandbox``, so the API, export, pages and course code read the engine's output
without importing the engine (``tests/unit/models/test_model_imports.py`` keeps it so).
"""
