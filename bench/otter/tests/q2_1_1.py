"""Otter (OK format) version of our checks 2.1.1.* on ScaledDotAttention."""

OK_FORMAT = True

test = {
    "name": "q2_1_1",
    "points": 4,
    "suites": [
        {
            "cases": [
                {
                    "code": ">>> from csc413_attention import scaled_context\n>>> scaled_context(ScaledDotAttention)\nTrue",
                    "hidden": False,
                    "locked": False,
                    "points": 2,
                },
                {
                    "code": ">>> from csc413_attention import scaled_weights\n>>> scaled_weights(ScaledDotAttention)\nTrue",
                    "hidden": False,
                    "locked": False,
                    "points": 1,
                },
                {
                    "code": ">>> from csc413_attention import scaled_2d\n>>> scaled_2d(ScaledDotAttention)\nTrue",
                    "hidden": False,
                    "locked": False,
                    "points": 1,
                },
            ],
            "scored": True,
            "setup": "",
            "teardown": "",
            "type": "doctest",
        }
    ],
}
