"""mfstudio: a workbench for seeing matrix factorization work.

The numerical core (``mfstudio.data``, ``mfstudio.metrics``, ``mfstudio.models``,
``mfstudio.kernels``) imports without Qt; only ``mfstudio.gui`` needs it.
"""

__version__ = "0.1.0"
