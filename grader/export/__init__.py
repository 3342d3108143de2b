"""Exports of the engine to other platforms' autograder formats (Gradescope's autograder zip).

    bundle           builds the autograder zip: the suite, the project's source, setup.sh, run_autograder
    scripts          the text of setup.sh and run_autograder
    results          Gradescope's results.json as a strict model, from a report or fail-closed
    gradescope_run   the entry run_autograder calls inside Gradescope's container

The zip holds the hidden suite and its data: it is for staff only, never for students.
"""
