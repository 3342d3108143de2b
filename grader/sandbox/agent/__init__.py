"""The agent: the only grader code that runs inside the sandbox.

It imports nothing from ``grader`` except ``grader.sandbox.protocol`` (a structure test checks this),
serves requests from the trusted side, and holds the student's objects behind numbered handles.
"""
