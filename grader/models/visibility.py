"""Who sees a check's result, and when: Gradescope's visibility values."""

from __future__ import annotations

from enum import StrEnum


class Visibility(StrEnum):
    """Gradescope's visibility values, with the same meaning."""

    visible = "visible"
    hidden = "hidden"
    after_due_date = "after_due_date"
    after_published = "after_published"
