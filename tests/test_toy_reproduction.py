"""Our gd reproduces the tutorials' reconstructed toy matrices to 1e-4 from the same starting P and Q (issue 15)."""

from __future__ import annotations

import numpy as np
import pytest

from mfstudio.data import open_data
from mfstudio.kernels import sgd as kernels


def _tutorial(R, P, Q, lr, sweeps):
    """The tutorials' loop as they print it (float64, row by row, no regularization)."""
    P, Q = P.copy(), Q.copy()
    for _ in range(sweeps):
        for i in range(R.shape[0]):
            for j in range(R.shape[1]):
                if R[i, j] > 0:
                    e = R[i, j] - P[i] @ Q[:, j]
                    P[i] += lr * 2 * e * Q[:, j]
                    Q[:, j] += lr * 2 * e * P[i]
    return P @ Q


def _ours(sample, P, Q, lr, sweeps):
    """What gd runs (method 'entry', the tutorial's order, reg 0) from the same start."""
    data = open_data(sample)
    order = np.lexsort((data.cols, data.rows))
    rows, cols, values = data.rows[order], data.cols[order], data.values[order]
    Pk = np.ascontiguousarray(P, dtype=np.float32)
    Qk = np.ascontiguousarray(Q.T, dtype=np.float32)
    for _ in range(sweeps):
        kernels.gd_entry_epoch(rows, cols, values, Pk, Qk, lr, 0.0)
    return data, Pk.astype(np.float64) @ Qk.T.astype(np.float64)


@pytest.mark.parametrize("sample, matrix, make_start, lr", [
    ("sample:toy-5x4", [[5, 3, 0, 1], [4, 0, 0, 1], [1, 1, 0, 5], [1, 0, 0, 4], [0, 1, 5, 4]],
     lambda: (np.random.default_rng(0).random((5, 2)), np.random.default_rng(1).random((2, 4))), 0.0002),
    ("sample:toy-5x3", [[5, 3, 0], [4, 0, 0], [1, 1, 0], [0, 0, 5], [0, 0, 4]],
     lambda: (lambda rs: (rs.rand(5, 2), rs.rand(2, 3)))(np.random.RandomState(42)), 0.01),
])
def test_gd_reproduces_the_tutorials_reconstruction_from_the_same_start(sample, matrix, make_start, lr):
    R = np.array(matrix, dtype=np.float64)
    P, Q = make_start()
    expected = _tutorial(R, P, Q, lr, 5000)
    data, ours = _ours(sample, P, Q, lr, 5000)
    # The sample's rows and columns are the tutorial's, in its order (0 = unknown): the same cells are fitted.
    dense = data.to_dense(fill=0.0)
    np.testing.assert_array_equal(dense, R)
    np.testing.assert_allclose(ours, expected, atol=1e-4)
