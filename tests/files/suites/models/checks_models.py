"""A check gated on a cached model: the sandbox reads the cache (read-only) through HF_HOME."""

from grader.authoring import check, fail
from grader.sandbox.client import Student


@check(name="no model needed", number="1", points=1)
def plain(student: Student) -> None:
    if student.module("good").add(2, 3) != 5:
        fail("add(2, 3) should be 5")


@check(name="reads the cached model", number="2", points=1, models=["acme/tiny-model"])
def cached(student: Student) -> None:
    config = student.module("good").load_config("acme/tiny-model")
    if not isinstance(config, dict) or config.get("hidden_size") != 8:
        fail(f"expected the model's config with hidden_size 8, got {config!r:.200}")
