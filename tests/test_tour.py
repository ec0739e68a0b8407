"""The README's tour (``python -m functrans``) runs and prints the seeds' numbers."""

import subprocess
import sys


def test_tour_prints_the_seeds_numbers():
    out = subprocess.run([sys.executable, "-m", "functrans"], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    for expected in ("[ 0.,  4.,  8., 12.]", "20.08553692", "(-0.1800987759, 0.0)", "0.6542514499",
                     "-0.9129452507, 2 times", "(201,)", "(7, 10, 5, 10)", "(5, 8, 5, 8)", "(7, 6, 5)"):
        assert expected in out, f"{expected!r} missing from the tour's output:\n{out}"
