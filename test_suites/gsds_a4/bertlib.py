"""The BERT grading helpers shared with the CMU ``minbert`` suite (``test_suites/minbert/bertlib``).

Both assignments grade one code base; rather than a second copy, this module stands for that package:
a module with ``__path__`` is a package, so ``from .bertlib import bodies`` loads minbert's files
under this suite's own package name.
"""

from pathlib import Path

__path__ = [str(Path(__file__).resolve().parent.parent / "minbert" / "bertlib")]
