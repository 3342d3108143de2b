"""grader: an autograder for machine-learning assignments with a hard trust boundary."""

__version__ = "0.1.0"
