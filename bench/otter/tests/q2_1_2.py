"""Otter (OK format) version of our checks 2.1.2.* on CausalScaledDotAttention."""

OK_FORMAT = True

test = {
    "name": "q2_1_2",
    "points": 4,
    "suites": [
        {
            "cases": [
                {
                    "code": ">>> from csc413_attention import causal_reference\n>>> causal_reference(CausalScaledDotAttention)\nTrue",
                    "hidden": False,
                    "locked": False,
                    "points": 2,
                },
                {
                    "code": ">>> from csc413_attention import causal_perturbation\n>>> causal_perturbation(CausalScaledDotAttention)\nTrue",
                    "hidden": False,
                    "locked": False,
                    "points": 1,
                },
                {
                    "code": ">>> from csc413_attention import causal_zero_scores\n>>> causal_zero_scores(CausalScaledDotAttention)\nTrue",
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
