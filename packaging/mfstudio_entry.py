"""PyInstaller's entry script: the bundle's mfstudio executable starts here."""

import sys

from mfstudio.launcher import launch

if __name__ == "__main__":
    sys.exit(launch())
