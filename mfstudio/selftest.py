"""``mfstudio --self-test``: prove an installation (or a bundle) works, offscreen.

It loads every built-in sample, fits each model family for a few epochs,
renders every view of the window once, and prints what it did with timings,
including whether the numba kernels were compiled now or loaded from the
cache. The exit status is 0 only if every step worked, so CI can run it
against the frozen bundle twice and check that the second run was warm.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

__all__ = ["run_self_test", "prepared_cache_problem"]

# Each model family on the sample it is made for, with a short run.
_FITS = [
    ("baseline", "movies", {"n_epochs": 3}),
    ("popularity", "movies", {}),
    ("gd", "toy-5x4", {"n_epochs": 50}),
    ("sgd", "movies", {"n_epochs": 3}),
    ("svdpp", "movies", {"n_epochs": 2}),
    ("als", "movies", {"n_epochs": 2}),
    ("implicit-als", "movies", {"n_epochs": 2}),
    ("bpr", "movies", {"n_epochs": 2}),
    ("bpmf", "movies", {"n_epochs": 4}),
    ("nmf", "topics", {"n_epochs": 10}),
    ("svd", "bars", {}),
]


#: Set by the bundle's start (packaging/mfstudio_bundle_cache.py) when it ships kernels this CPU can load.
PREPARED_ENV = "MFSTUDIO_PREPARED_KERNELS"


def prepared_cache_problem(stats: dict, environ=os.environ) -> str | None:
    """Why the warm-up's ``stats`` break the bundle's promise, or None.

    A bundle that ships a prepared kernel cache this CPU can use must start
    without compiling, wherever it was unpacked and whatever the user's
    cache holds: one compiled signature means numba did not find it.
    """
    if environ.get(PREPARED_ENV) and stats.get("compiled", 0) > 0:
        return (f"prepared kernel cache not used: {stats['compiled']} kernel signatures compiled although the "
                f"bundle ships them ({environ[PREPARED_ENV]})")
    return None


def _say(text: str) -> None:
    if sys.stdout is not None:
        print(text, flush=True)


def run_self_test(out_dir: str | None = None) -> int:
    """Run the checks; returns the process exit status (0: everything worked)."""
    os.environ["QT_QPA_PLATFORM"] = os.environ.get("MFSTUDIO_SELF_TEST_PLATFORM", "offscreen")
    from .gui.app import configure_environment

    configure_environment()
    failures: list[str] = []
    started = time.perf_counter()

    def step(label: str, function):
        t = time.perf_counter()
        try:
            result = function()
        except Exception as exc:  # the self-test reports, it does not crash
            failures.append(f"{label}: {type(exc).__name__}: {exc}")
            _say(f"FAIL {label} ({time.perf_counter() - t:.2f} s): {exc}")
            if os.environ.get("MFSTUDIO_SELF_TEST_DEBUG"):
                traceback.print_exc()
            return None
        _say(f"ok   {label} ({time.perf_counter() - t:.2f} s)")
        return result

    _say(f"mfstudio self-test, Python {sys.version.split()[0]}, frozen={getattr(sys, 'frozen', False)}")
    step("import core", lambda: __import__("mfstudio.models"))

    from .warmup import kernel_cache_dir, warm_up

    stats = step("prepare kernels", warm_up)
    if stats is not None:
        source = "from cache" if stats["compiled"] == 0 else "compiled"
        _say(f"     kernels: {stats['from_cache']} from cache, {stats['compiled']} compiled -> kernels {source}")
        _say(f"     numba cache: {kernel_cache_dir()}")
        problem = prepared_cache_problem(stats)
        if problem:
            failures.append(problem)
            _say(f"FAIL {problem}")
        elif os.environ.get(PREPARED_ENV):
            _say(f"     prepared kernel cache shipped in the bundle: {os.environ[PREPARED_ENV]}")

    from .data import load_sample
    from .data.splits import random_split
    from .models import MODELS

    samples = {}
    for name in ("toy-5x4", "toy-5x3", "movies", "topics", "bars"):
        samples[name] = step(f"load sample {name}", lambda n=name: load_sample(n))

    # The readers the samples do not touch (a bundle can lose one to a size cut): pyarrow's CSV reader,
    # scikit-learn's vectorizer, Pillow's codecs, Parquet (factor export/import).
    step("read files (CSV, text folder, images, Parquet)", _read_files)

    fitted = {}
    for model_name, sample, params in _FITS:
        if model_name not in MODELS:
            failures.append(f"model {model_name} is not registered")
            _say(f"FAIL model {model_name} is not registered")
            continue
        data = samples.get(sample)
        if data is None:
            continue

        def fit(model_name=model_name, data=data, params=params):
            import numpy as np

            split = random_split(data, 0.2, seed=0) if data.nnz > 50 else None
            model = MODELS[model_name](**params)
            model.fit(split.train if split else data, split.test if split else None)
            score = model.score(split.test) if split else {}
            if not np.isfinite(model.predict([0], [0])).all():
                raise RuntimeError("prediction is not finite")
            return model, split, score

        result = step(f"fit {model_name} on {sample}", fit)
        if result is not None:
            fitted[model_name] = (sample, *result)
            shown = ", ".join(f"{k} {v:.4f}" for k, v in list(result[2].items())[:2])
            if shown:
                _say(f"     {shown}")

    step("render every view", lambda: _render_views(samples, fitted, out_dir))
    total = time.perf_counter() - started
    if failures:
        _say(f"self-test FAILED ({len(failures)} problems) in {total:.1f} s:")
        for failure in failures:
            _say(f"  - {failure}")
        return 1
    _say(f"self-test passed in {total:.1f} s")
    return 0


def _read_files() -> None:
    import numpy as np

    from .data import load

    folder = Path(tempfile.mkdtemp(prefix="mfstudio-selftest-files-"))
    rng = np.random.default_rng(0)
    # Ratings with text ids: the full (pyarrow) reader, not the small all-numeric fast path.
    with open(folder / "ratings.csv", "w", encoding="utf-8") as f:
        f.write("user,item,rating\n")
        for u in range(30):
            for i in rng.choice(40, 8, replace=False):
                f.write(f"u{u},item {i},{rng.integers(1, 6)}\n")
    ratings = load(folder / "ratings.csv")
    if ratings.shape[0] != 30 or ratings.nnz != 240:
        raise RuntimeError(f"ratings.csv read as {ratings.shape} with {ratings.nnz} entries")
    # A folder of documents: scikit-learn's TF-IDF vectorizer.
    (folder / "docs").mkdir()
    words = ["matrix", "factor", "topic", "river", "mountain", "music", "guitar", "rain", "cloud", "storm"]
    for d in range(12):
        text = " ".join(rng.choice(words[(d % 2) * 5:(d % 2) * 5 + 5], 20))
        (folder / "docs" / f"doc{d:02d}.txt").write_text(text, encoding="utf-8")
    docs = load(folder / "docs")
    if docs.shape[0] != 12 or docs.kind != "documents":
        raise RuntimeError(f"the text folder read as {docs.kind} {docs.shape}")
    # Image folders, one per codec the loader accepts.
    from PIL import Image

    for fmt, suffix in (("PNG", "png"), ("JPEG", "jpg"), ("TIFF", "tif"), ("WEBP", "webp"), ("BMP", "bmp"),
                        ("GIF", "gif")):
        images = folder / f"images-{suffix}"
        images.mkdir()
        for n in range(6):
            pixels = np.zeros((8, 10), np.uint8)
            pixels[n, :] = 255
            Image.fromarray(pixels).save(images / f"im{n}.{suffix}", fmt)
        data = load(images)
        if data.shape != (6, 80):
            raise RuntimeError(f"the {fmt} images read as {data.shape}, not 6 x 80")
    # Parquet both ways, as the factor export (pandas) and the Spark layout (pyarrow) use it.
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    pd.DataFrame({"id": np.arange(5), "f0": rng.random(5)}).to_parquet(folder / "factors.parquet", index=False)
    (folder / "spark").mkdir()
    features = pa.array([list(map(float, row)) for row in rng.random((5, 3))], pa.list_(pa.float32()))
    pq.write_table(pa.table({"id": pa.array(np.arange(5), pa.int32()), "features": features}),
                   folder / "spark" / "part-00000.parquet")
    if pq.read_table(folder / "spark").num_rows != 5 or len(pd.read_parquet(folder / "factors.parquet")) != 5:
        raise RuntimeError("Parquet did not read back what was written")


def _render_views(samples, fitted, out_dir) -> None:
    from PySide6.QtCore import QSettings

    from .gui.app import create_app
    from .gui.main_window import MainWindow
    from .project import Run

    app = create_app()
    settings_dir = tempfile.mkdtemp(prefix="mfstudio-selftest-")
    window = MainWindow(settings=QSettings(str(Path(settings_dir) / "s.ini"), QSettings.Format.IniFormat))
    window.resize(1400, 880)
    window.show()
    out = Path(out_dir) if out_dir else None
    if out:
        out.mkdir(parents=True, exist_ok=True)
    rendered = 0
    # Each sample with the runs fitted on it, so every view has something to draw.
    for sample in ("movies", "topics", "bars"):
        runs = []
        for name, (fit_sample, model, split, _) in fitted.items():
            if fit_sample == sample:
                run = Run(name=name, model=model, split_description=split.report() if split else "",
                          train_index=split.train_index if split else None,
                          test_index=split.test_index if split else None,
                          metrics=dict(model.history_[-1].metrics) if model.history_ else {}, status="finished")
                runs.append(run)
        if samples.get(sample) is None:
            continue
        window.set_dataset(samples[sample], runs)
        for index, view in enumerate(window.views):
            if not window.tabs.isTabEnabled(index):
                continue
            window.tabs.setCurrentIndex(index)
            for _ in range(4):  # layout, resize, redraw: a few rounds until the view settles
                app.processEvents()
                time.sleep(0.02)
            image = window.grab()
            if image.isNull() or image.width() < 100:
                raise RuntimeError(f"the {view.title} view did not render")
            if out:
                image.save(str(out / f"{sample}-{view.title.lower().replace(' ', '-').replace('&', 'and')}.png"))
            rendered += 1
    window.close()
    if rendered < 6:
        raise RuntimeError(f"only {rendered} views rendered")
    _say(f"     {rendered} view renders")
