"""The PySide6 + pyqtgraph desktop app; the only package that imports Qt."""
