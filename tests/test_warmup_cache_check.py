"""The start-up cache check asks only about kernels Python calls (issue 13: "first run only" only on the first run)."""

from __future__ import annotations

import mfstudio.warmup as warmup


def test_building_blocks_only_other_kernels_call_never_count_as_missing(monkeypatch):
    # After kernels/_common.py changes, numba (which stamps each file alone) leaves its helpers' own cache
    # entries empty for good while their callers load from their caches with the helpers compiled in: the
    # check then reported them missing on every start and the window said "first run only" each time.
    common = []
    for name, dispatcher in warmup._dispatchers():
        if name.startswith(f"{warmup.COMMON_MODULE}."):
            cache_file = dispatcher._cache._cache_file
            monkeypatch.setattr(cache_file, "_load_index", lambda: {})
            common.append(name)
    assert {"_common.cholesky_solve", "_common.row_dot"} <= set(common)
    missing = warmup.kernels_missing_from_cache()
    assert not [name for name in missing if name.startswith("_common.")]


def test_a_kernel_python_calls_with_an_empty_cache_entry_is_missing(monkeypatch):
    for name, dispatcher in warmup._dispatchers():
        if name == "sgd.sgd_epoch":
            monkeypatch.setattr(dispatcher._cache._cache_file, "_load_index", lambda: {})
    assert "sgd.sgd_epoch" in warmup.kernels_missing_from_cache()


def test_the_warm_up_prepares_the_paths_tiny_data_never_takes():
    # Bayesian MF's parallel sampler and NMF's correction over a grid's empty cells run only on large or
    # holey data: the warm-up must make them too, or the start-up check finds them missing on every launch.
    from mfstudio.models import MODELS

    wanted = {"bpmf.sample_side", "nmf.excluded_cd_rows", "nmf.excluded_mu_rows", "nmf.excluded_sq_rows"}
    warmup._warm_rare_paths(MODELS)
    prepared = {name for name, dispatcher in warmup._dispatchers() if dispatcher.signatures}
    assert wanted <= prepared


def test_the_cache_stamp_reads_this_installs_folder_and_ignores_other_checkouts(monkeypatch, tmp_path):
    """numba names a source folder's cache ``<name>_<sha1 of its path>``; only ours decides the stamp."""
    import hashlib
    import os

    import mfstudio.kernels as kernels

    folder = os.path.abspath(os.path.dirname(kernels.__file__))
    cache = tmp_path / "numba-cache"
    ours = cache / f"kernels_{hashlib.sha1(folder.encode()).hexdigest()}"
    other = cache / "kernels_0123456789abcdef0123456789abcdef01234567"
    ours.mkdir(parents=True)
    other.mkdir()
    (ours / "sgd.sgd_epoch-1.py311.nbi").write_bytes(b"index")
    (other / "sgd.sgd_epoch-1.py311.nbi").write_bytes(b"index")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(cache))
    before = warmup.kernel_cache_stamp()
    assert before is not None
    (other / "als.solve-9.py311.nbi").write_bytes(b"another checkout compiled")
    assert warmup.kernel_cache_stamp() == before
    (ours / "als.solve-9.py311.nbi").write_bytes(b"we compiled")
    assert warmup.kernel_cache_stamp() != before
