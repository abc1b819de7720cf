"""PyInstaller's entry script: the bundle's mfstudio executable starts here.

``mfstudio --prepare-kernel-cache DIR`` is the build's step (packaging/build.sh),
not a user command: it compiles every kernel for the portable CPU into DIR,
the prepared cache shipped in the bundle (see mfstudio_bundle_cache).
"""

import os
import sys

import mfstudio_bundle_cache


def _prepare_kernel_cache(folder: str) -> int:
    if not mfstudio_bundle_cache.host_supports_portable_cpu():
        print(f"this CPU lacks {mfstudio_bundle_cache.PORTABLE_CPU}'s instructions: no prepared kernel cache")
        return 0
    os.environ[mfstudio_bundle_cache.BUILDING_ENV] = os.path.abspath(folder)
    # The Hogwild kernels are warmed only with several threads: prepare them even on a one-core builder.
    if (os.cpu_count() or 1) < 2:
        os.environ.setdefault("NUMBA_NUM_THREADS", "2")
    mfstudio_bundle_cache.configure()
    from mfstudio.warmup import warm_up

    stats = warm_up(extras=True)
    print(f"prepared kernel cache: {stats['compiled']} signatures compiled in {stats['seconds']:.1f} s into {folder}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--prepare-kernel-cache":
        sys.exit(_prepare_kernel_cache(sys.argv[2]))
    mfstudio_bundle_cache.configure()
    from mfstudio.launcher import launch

    sys.exit(launch())
