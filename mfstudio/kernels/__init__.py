"""numba kernels, one module per family; no classes, no I/O (see DESIGN.md)."""
