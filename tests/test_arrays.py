"""mfstudio.data.arrays.unique_sorted: np.unique by sorting (numpy 2's hash-table unique was 60x slower)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mfstudio.data.arrays import unique_sorted


@given(hnp.arrays(st.sampled_from([np.int32, np.int64, np.uint32, np.float32, np.float64]),
                  hnp.array_shapes(min_dims=1, max_dims=2, min_side=0, max_side=30)))
def test_unique_sorted_equals_numpys_unique(values):
    ours, theirs = unique_sorted(values), np.unique(values)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs)  # NaNs compare equal here, and come last once in both


def test_unique_sorted_does_not_import_numpy_ma():
    """np.unique imports numpy.ma on first use (20-60 ms of the window's start, for one histogram)."""
    code = ("import sys, numpy as np\nfrom mfstudio.data.arrays import unique_sorted\n"
            "assert unique_sorted(np.array([3, 1, 3])).tolist() == [1, 3]\nprint('MA', 'numpy.ma' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "MA False" in proc.stdout
