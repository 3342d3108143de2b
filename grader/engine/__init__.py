"""Trusted grading: unpack, run a suite's checks against a sandbox, build the report.

Never imports student code: everything the student wrote runs behind ``grader.sandbox``.
"""
