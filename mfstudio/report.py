"""A report: one self-contained HTML file of a session's runs, to hand to someone.

:func:`write_report` writes the data summary, each run's protocol and
parameters, the metrics of every run side by side, training curves and (for
SVD) the spectrum, the parts of an image factorization, and top topics or
recommendations for a few users, with every picture embedded as a PNG
``data:`` URI: the file opens in any browser, offline, and prints to PDF
from the browser. Pictures are drawn with matplotlib when it is installed and
with a small numpy rasterizer otherwise, so a report never needs more than
numpy.

The file starts with a marker comment; an existing file is replaced only
when it carries the marker *and* ``overwrite`` is given (as
:mod:`mfstudio.savefiles` refuses to replace what it did not write).
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import math
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .data.errors import DataError

__all__ = ["ReportRun", "write_report", "report_html", "REPORT_MARKER", "png_bytes"]

#: The first line of every report: how a later report knows it may replace the file.
REPORT_MARKER = "<!-- mfstudio-report -->"


@dataclass
class ReportRun:
    """One run as the report shows it (made from a Run, an Experiment or a fitted model).

    Attributes
    ----------
    name : str
    model : fitted model
    metrics : dict
    protocol : str
        One line: how it was evaluated.
    history : list of FitStep
    """

    name: str
    model: object
    metrics: dict = field(default_factory=dict)
    protocol: str = ""
    history: list = field(default_factory=list)


def _as_report_run(item, index: int) -> ReportRun:
    from .experiment import Experiment

    if isinstance(item, ReportRun):
        return item
    if isinstance(item, Experiment):
        model = item.model
        if model is None:
            raise DataError(f"run {index + 1} has not been fitted", fix="run the experiment first")
        return ReportRun(f"{item.model_cls.name}", model, dict(item.metrics), item.protocol_line, list(model.history_))
    if hasattr(item, "split_description") and hasattr(item, "model"):  # mfstudio.project.Run
        return ReportRun(item.name, item.model, dict(item.metrics), item.protocol or item.split_description,
                         list(item.model.history_))
    if hasattr(item, "history_"):
        return ReportRun(getattr(item, "name", f"run {index + 1}"), item, {}, "", list(item.history_))
    raise DataError(f"run {index + 1} is not a run, an experiment or a fitted model", fix="pass runs")


# ---------------------------------------------------------------- pictures
def png_bytes(pixels: np.ndarray) -> bytes:
    """Encode an ``(h, w)`` grey or ``(h, w, 3)`` RGB uint8 array as a PNG (no dependencies)."""
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    if pixels.ndim == 2:
        colour, channels = 0, 1
    elif pixels.ndim == 3 and pixels.shape[2] == 3:
        colour, channels = 2, 3
    else:
        raise ValueError("png_bytes needs (h, w) or (h, w, 3) uint8 pixels")
    h, w = pixels.shape[:2]
    raw = np.hstack([np.zeros((h, 1), np.uint8), pixels.reshape(h, w * channels)]).tobytes()  # filter 0 per row

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


def _have_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


_COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75)]


def _raster_lines(series: list[tuple[str, np.ndarray, np.ndarray]], width=480, height=260) -> bytes:
    """Lines on a white canvas with a frame (the no-matplotlib fallback; the legend is in the HTML)."""
    img = np.full((height, width, 3), 255, np.uint8)
    pad = 12
    img[pad, pad:width - pad] = img[height - pad, pad:width - pad] = 160
    img[pad:height - pad, pad] = img[pad:height - pad, width - pad] = 160
    xs = np.concatenate([s[1] for s in series]) if series else np.zeros(1)
    ys = np.concatenate([s[2][np.isfinite(s[2])] for s in series]) if series else np.zeros(1)
    if ys.size == 0:
        return png_bytes(img)
    x0, x1 = float(xs.min()), float(xs.max()) or 1.0
    y0, y1 = float(ys.min()), float(ys.max())
    x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 1)
    for n, (_, x, y) in enumerate(series):
        ok = np.isfinite(y)
        x, y = x[ok], y[ok]
        px = pad + (x - x0) / (x1 - x0) * (width - 2 * pad - 1)
        py = height - pad - 1 - (y - y0) / (y1 - y0) * (height - 2 * pad - 1)
        if px.size == 1:
            px, py = np.repeat(px, 2), np.repeat(py, 2)
        for a in range(px.size - 1):
            steps = int(max(abs(px[a + 1] - px[a]), abs(py[a + 1] - py[a]), 1)) + 1
            cx = np.round(np.linspace(px[a], px[a + 1], steps)).astype(int)
            cy = np.round(np.linspace(py[a], py[a + 1], steps)).astype(int)
            for dx in (0, 1):
                img[np.clip(cy, 0, height - 1), np.clip(cx + dx, 0, width - 1)] = _COLOURS[n % len(_COLOURS)]
    return png_bytes(img)


def _figure_png(draw) -> bytes:
    from matplotlib.figure import Figure  # the object API: no pyplot state, safe off the GUI thread

    fig = Figure(figsize=(6.0, 3.2), dpi=90)
    draw(fig)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _lines_png(title: str, xlabel: str, series: list[tuple[str, np.ndarray, np.ndarray]], log: bool = False) -> bytes:
    if not _have_matplotlib():
        return _raster_lines(series)

    def draw(fig):
        ax = fig.add_subplot(1, 1, 1)
        for name, x, y in series:
            ax.plot(x, y, marker="." if len(x) < 60 else None, label=name)
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        if log:
            ax.set_yscale("log")
        if len(series) > 1:
            ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    return _figure_png(draw)


def _parts_png(components: np.ndarray, image_shape, n: int = 12) -> bytes:
    """The first ``n`` components as a strip of grey images (numpy only: a picture of pixels needs no axes)."""
    h, w = image_shape
    k = min(n, components.shape[0])
    scale = max(1, 48 // max(h, w))
    tiles = []
    for c in components[:k]:
        img = np.asarray(c, np.float64).reshape(h, w)
        lo, hi = float(img.min()), float(img.max())
        img = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
        tile = np.kron(255 - img * 255, np.ones((scale, scale)))
        tiles.append(np.pad(tile, 2, constant_values=255))
    return png_bytes(np.hstack(tiles).astype(np.uint8))


_COLOUR_NAMES = ("blue", "orange", "green", "red", "purple", "brown")


def _img(png: bytes, alt: str, series=None) -> str:
    tag = f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'
    if series is None or _have_matplotlib():
        return tag
    # The numpy fallback draws no text: say what the picture is, and which colour is which line.
    legend = ", ".join(f"{name} ({_COLOUR_NAMES[n % len(_COLOUR_NAMES)]})" for n, (name, _, _) in enumerate(series))
    return f"<figure style='display:inline-block;margin:0'>{tag}<figcaption class=meta>{html.escape(alt)}: " \
           f"{html.escape(legend)}</figcaption></figure>"


# ---------------------------------------------------------------- sections
def _number(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.4f}" if abs(value) < 1000 else f"{value:,.0f}"
    return html.escape(str(value))


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _data_section(dataset) -> str:
    rows = [["name", html.escape(str(dataset.name))], ["kind", html.escape(dataset.kind)],
            [f"{dataset.row_label}s x {dataset.col_label}s", f"{dataset.n_rows:,} x {dataset.n_cols:,}"],
            ["entries", f"{dataset.nnz:,} ({dataset.nnz / max(dataset.n_rows * dataset.n_cols, 1):.2%} of the cells)"]]
    if dataset.rating_scale:
        rows.append(["rating scale", f"{dataset.rating_scale[0]:g} to {dataset.rating_scale[1]:g}"])
    if getattr(dataset, "kind_reason", ""):
        rows.append(["read as", html.escape(dataset.kind_reason)])
    for note in getattr(dataset, "notes", [])[:5]:
        rows.append(["note", html.escape(str(note))])
    picture = ""
    if dataset.nnz and dataset.kind in ("explicit", "implicit"):
        per_row = np.bincount(dataset.rows, minlength=dataset.n_rows)
        per_col = np.sort(np.bincount(dataset.cols, minlength=dataset.n_cols))[::-1]
        series = [(f"{dataset.col_label}s", np.arange(1, per_col.size + 1, dtype=float),
                   np.maximum(per_col, 1).astype(float)),
                  (f"{dataset.row_label}s", np.arange(1, per_row.size + 1, dtype=float),
                   np.maximum(np.sort(per_row)[::-1], 1).astype(float))]
        picture = _img(_lines_png(f"entries per {dataset.col_label}, most first (log)", f"{dataset.col_label} rank",
                                  series, log=True), "entries per item and per user, most first", series)
    return "<h2>Data</h2>" + _table(["", ""], rows) + picture


def _metrics_section(runs: list[ReportRun]) -> str:
    names: list[str] = []
    for run in runs:
        names += [n for n in run.metrics if n not in names and not n.startswith("ranking_")]
    rows = [[html.escape(r.name), html.escape(r.model.name)] + [_number(r.metrics.get(n)) for n in names] for r in runs]
    return "<h2>Metrics of every run</h2>" + _table(["run", "model"] + names, rows)


def _curves(run: ReportRun) -> str:
    if not run.history:
        return ""
    epochs = np.asarray([s.epoch for s in run.history], dtype=float)
    loss = [("train loss", epochs, np.asarray([s.train_loss for s in run.history], float))]
    out = _img(_lines_png(f"{run.name}: training loss", "epoch", loss), f"{run.name}: training loss per epoch", loss)
    names = sorted({n for s in run.history for n in s.metrics})
    if names:
        series = [(n, epochs, np.asarray([s.metrics.get(n, np.nan) for s in run.history], float)) for n in names[:4]]
        out += _img(_lines_png(f"{run.name}: metrics per epoch", "epoch", series), f"{run.name}: metrics per epoch",
                    series)
    return out


def _spectrum(run: ReportRun) -> str:
    from .inspect import spectrum_of

    spectrum = spectrum_of(run.model)
    if spectrum is None:
        return ""
    values = np.asarray(spectrum.singular_values, float)
    series = [("singular value", np.arange(1, values.size + 1, dtype=float), values)]
    return _img(_lines_png(f"{run.name}: singular values", "component", series), f"{run.name}: singular values",
                series)


def _content(run: ReportRun, dataset, users: list, n: int) -> str:
    """Top topics (documents), parts (images), or recommendations for a few users (ratings, interactions)."""
    from .inspect import factors_of

    model = run.model
    if dataset.kind == "documents":
        from .experiment import top_terms

        topics = top_terms(model, dataset)[:10]
        return "<h4>Top words per topic</h4><ol>" + "".join(
            f"<li>{html.escape(' '.join(words))}</li>" for words in topics) + "</ol>"
    if dataset.kind == "images" and dataset.image_shape:
        wh = factors_of(model)
        if wh is None:
            return ""
        return "<h4>Parts</h4>" + _img(_parts_png(wh[1], dataset.image_shape), f"{run.name} parts")
    if dataset.kind not in ("explicit", "implicit") or not users:
        return ""
    from .recommend import recommendations_for

    blocks = []
    for user in users:
        try:
            rows = recommendations_for(model, user, n=n)
        except DataError:
            continue
        items = "".join(f"<li>{html.escape(r['title'])} <span class=s>{r['score']:.3f}</span></li>" for r in rows)
        blocks.append(f"<div class=rec><b>{html.escape(dataset.row_label)} {html.escape(str(user))}</b><ol>{items}</ol></div>")
    return "<h4>Recommendations</h4>" + "".join(blocks) if blocks else ""


def _params(model) -> str:
    params = getattr(model, "params", {})
    return ", ".join(f"{html.escape(str(k))}={html.escape(str(v))}" for k, v in params.items())


_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:24px auto;padding:0 16px;color:#222}
table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;
font-size:13px}th{background:#f3f3f3}img{max-width:100%;margin:4px 8px 4px 0;vertical-align:top}
.run{border-top:2px solid #ddd;margin-top:18px}.rec{display:inline-block;vertical-align:top;margin-right:18px;
font-size:13px}.s{color:#888}.meta{color:#666;font-size:12px}@media print{.run{page-break-inside:avoid}}
"""

# Counts the images that decoded, so a headless browser can prove every picture is there.
_SELF_CHECK = """<script>
window.addEventListener('load',function(){var i=document.images,n=0;for(var k=0;k<i.length;k++){
if(i[k].complete&&i[k].naturalWidth>0)n++;}document.body.setAttribute('data-images-loaded',n);});
</script>"""


def report_html(dataset, runs, *, title: str | None = None, users=None, n: int = 5) -> str:
    """The report as one HTML string (see :func:`write_report`)."""
    from . import __version__

    entries = [_as_report_run(r, i) for i, r in enumerate(runs)]
    if not entries:
        raise DataError("there are no runs to report", fix="fit at least one model")
    if users is None and dataset.kind in ("explicit", "implicit") and dataset.nnz:
        counts = np.bincount(dataset.rows, minlength=dataset.n_rows)
        users = [dataset.row_ids[i].item() if hasattr(dataset.row_ids[i], "item") else dataset.row_ids[i]
                 for i in np.argsort(-counts, kind="stable")[:3]]
    title = title or f"mfstudio report: {dataset.name}"
    parts = [f"<h1>{html.escape(title)}</h1>",
             f"<p class=meta>mfstudio {html.escape(__version__)}, {_dt.datetime.now():%Y-%m-%d %H:%M}; "
             f"{len(entries)} run{'s' * (len(entries) != 1)}. Print from the browser for a PDF.</p>",
             _data_section(dataset), _metrics_section(entries), "<h2>Runs</h2>"]
    for run in entries:
        parts.append(f"<div class=run><h3>{html.escape(run.name)}: {html.escape(run.model.title or run.model.name)}</h3>"
                     f"<p><b>protocol</b>: {html.escape(run.protocol)}<br><b>parameters</b>: {_params(run.model)}</p>"
                     + _curves(run) + _spectrum(run) + _content(run, dataset, list(users or []), n) + "</div>")
    n_images = sum(p.count("<img ") for p in parts)
    return (f"{REPORT_MARKER}\n<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
            f"<body data-images='{n_images}'>" + "\n".join(parts) + _SELF_CHECK + "</body></html>\n")


def write_report(path, dataset, runs_or_experiments, *, title: str | None = None, users=None, n: int = 5,
                 overwrite: bool = False) -> Path:
    """Write one self-contained HTML report of a session's runs.

    Parameters
    ----------
    path : path-like
        The ``.html`` file.
    dataset : Dataset
        The session's data.
    runs_or_experiments : list
        :class:`mfstudio.project.Run` (the window's runs), finished
        :class:`mfstudio.experiment.Experiment` objects, or :class:`ReportRun`.
    title : str, optional
    users : list of raw ids, optional
        Whose recommendations to show (default: the 3 most active users).
    n : int
        Recommendations per user.
    overwrite : bool
        Replace an earlier mfstudio report at ``path``; a file mfstudio did
        not write is never replaced.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    DataError
        A file is in the way (not a report, or a report without ``overwrite``), or the folder cannot be written.
    """
    from .savefiles import atomic_write

    path = Path(path)
    if path.exists():
        ours = False
        if path.is_file():
            try:
                with open(path, "rb") as stream:
                    ours = stream.read(len(REPORT_MARKER)).decode("utf-8", "replace") == REPORT_MARKER
            except OSError:
                ours = False
        if not ours:
            raise DataError("a file that is not an mfstudio report is already there, and it is never replaced",
                            path, fix="choose another name")
        if not overwrite:
            raise DataError("an earlier report is already there", path,
                            fix="choose another name, or replace it (--force)")
    text = report_html(dataset, runs_or_experiments, title=title, users=users, n=n)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda stream: stream.write(text.encode("utf-8")))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(path, 0o666 & ~umask)  # a report is for others to read, unlike the private temporary file
    except OSError as exc:
        raise DataError(f"cannot write it ({exc.strerror or exc})", path, fix="choose a folder you can write to") from None
    return path
