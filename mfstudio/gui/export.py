"""Writing what the views show: plots (PNG/SVG), tables (CSV), factors (CSV/NPZ/Parquet)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import pyqtgraph.exporters as pg_exporters

__all__ = ["export_plot", "export_table", "export_factors"]


def export_plot(plot, path) -> Path:
    """Save a PlotItem (or a GraphicsLayout/Scene item) as PNG or SVG, by the file's suffix."""
    path = Path(path)
    item = plot.getPlotItem() if isinstance(plot, pg.PlotWidget) else plot
    if isinstance(item, pg.GraphicsLayoutWidget):
        item = item.ci
    if path.suffix.lower() == ".svg":
        _export_svg(item, path)
        return path
    exporter = pg_exporters.ImageExporter(item)
    width = int(item.boundingRect().width()) or 800
    exporter.parameters()["width"] = max(width * 2, 800)  # crisp on high-DPI screens and print
    exporter.export(str(path))
    return path


def _export_svg(item, path: Path) -> None:
    """Vector export through Qt's own SVG generator.

    pyqtgraph 0.14's SVGExporter fails on current Qt ("not enough values to
    unpack" in correctCoordinates, pyqtgraph issue 3485); painting the scene
    region into a QSvgGenerator gives the same picture as the screen.
    """
    from PySide6.QtCore import QRectF, QSize
    from PySide6.QtGui import QPainter
    from PySide6.QtSvg import QSvgGenerator

    source = item.sceneBoundingRect()
    generator = QSvgGenerator()
    generator.setFileName(str(path))
    generator.setSize(QSize(int(source.width()), int(source.height())))
    generator.setViewBox(QRectF(0, 0, source.width(), source.height()))
    generator.setTitle("mfstudio")
    painter = QPainter(generator)
    try:
        item.scene().render(painter, QRectF(0, 0, source.width(), source.height()), source)
    finally:
        painter.end()


def export_table(table, path) -> Path:
    """Save a QTableWidget/QTableView's visible columns and every row as CSV (UTF-8)."""
    path = Path(path)
    model = table.model()
    from PySide6.QtCore import Qt

    headers = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(headers)
        for r in range(model.rowCount()):
            writer.writerow([model.data(model.index(r, c)) for c in range(model.columnCount())])
    return path


def export_factors(model, path, fmt: str) -> list[Path]:
    """Save a fitted model's factors with the raw ids (and titles) beside each row.

    CSV and Parquet write two tables, ``NAME-users`` and ``NAME-items``; NPZ
    writes one archive with every fitted array and the id maps.
    """
    path = Path(path)
    train = model.train_
    users = np.asarray(model.user_factors_)
    items = np.asarray(model.item_factors_)
    if fmt == "npz":
        arrays = {k: v for k, v in model._fitted_arrays().items()}
        arrays.update(row_ids=train.row_ids, col_ids=train.col_ids)
        if train.item_titles is not None:
            arrays["item_titles"] = train.item_titles
        np.savez_compressed(path.with_suffix(".npz"), **arrays)
        return [path.with_suffix(".npz")]
    import pandas as pd

    def table(ids, factors, titles=None, bias=None, label="id"):
        frame = pd.DataFrame({label: ids})
        if titles is not None:
            frame["title"] = titles
        if bias is not None:
            frame["bias"] = bias
        for k in range(factors.shape[1]):
            frame[f"f{k + 1}"] = factors[:, k]
        return frame

    user_table = table(train.row_ids, users, bias=getattr(model, "user_bias_", None), label=train.row_label)
    item_table = table(train.col_ids, items, titles=train.item_titles, bias=getattr(model, "item_bias_", None),
                       label=train.col_label)
    stem = path.with_suffix("")
    written = []
    for name, frame in ((f"{train.row_label}s", user_table), (f"{train.col_label}s", item_table)):
        target = stem.parent / f"{stem.name}-{name}.{fmt}"
        if fmt == "csv":
            frame.to_csv(target, index=False)
        elif fmt == "parquet":
            frame.to_parquet(target, index=False)
        else:
            raise ValueError(f"unknown factor format {fmt!r}; use csv, npz or parquet")
        written.append(target)
    return written
