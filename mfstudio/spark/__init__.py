"""Fitting on Apache Spark: mfstudio's ALS run by Spark MLlib, read back as an ordinary model.

Nothing here imports :mod:`pyspark` at import time: ``import mfstudio``, the
CLI and the window stay free of Spark (and of its ~500 MB of jars) until a
fit with ``engine="spark"`` starts. This module holds only what the models'
declarations need (``engine_specs`` in :mod:`mfstudio.models.als`); the engine is :mod:`mfstudio.spark.engine`, the
Spark-layout and implicit-layout factor files are :mod:`mfstudio.spark.interop`,
and the progress hook the window's worker installs is
:mod:`mfstudio.spark.progress`.
"""

from __future__ import annotations

# No imports of mfstudio.models here: the models import this package for the
# declarations below (mfstudio.models.als.engine_specs), and importing
# mfstudio.spark.progress or .interop first must not start a cycle.

__all__ = ["MASTER_PATTERN", "DEFAULT_MASTER"]

#: What Spark accepts as a master, restricted to the forms mfstudio supports:
#: ``local``, ``local[N]``, ``local[*]``, ``local[N,F]`` (F task retries),
#: ``spark://host:port[,host:port]`` (a standalone cluster, HA masters
#: comma-separated), ``sc://host[:port][/;params]`` (Spark Connect), ``yarn``
#: and ``k8s://...``. Checked before a fit, so a typo is one sentence at Run,
#: not a JVM that hangs retrying an address that cannot exist.
MASTER_PATTERN = (
    r"local(\[(\*|[1-9]\d*)(,[1-9]\d*)?\])?"
    r"|spark://[\w.\-]+(:\d{1,5})?(,[\w.\-]+(:\d{1,5})?)*"
    r"|sc://[\w.\-]+(:\d{1,5})?(/\S*)?"
    r"|yarn|k8s://\S+"
)

#: All the cores of this machine: the local engine's choice too.
DEFAULT_MASTER = "local[*]"
