"""bench/common.py's listing reads every page: a deadline has more submissions than one page holds."""

from __future__ import annotations

import httpx

from bench.common import listing


def test_the_listing_is_read_page_by_page_until_the_total() -> None:
    every = [{"id": f"s{i}", "state": "done"} for i in range(2500)]

    def answer(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params.get("offset", 0))
        limit = min(int(request.url.params.get("limit", 100)), 1000)  # the API's cap
        return httpx.Response(200, json={"total": len(every), "submissions": every[offset : offset + limit]})

    with httpx.Client(transport=httpx.MockTransport(answer), base_url="http://grader") as client:
        assert [s["id"] for s in listing(client, "a")] == [s["id"] for s in every]
