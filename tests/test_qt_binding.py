"""The Qt binding we depend on survives a long session.

PySide6 6.12.0 returned None from void methods without counting the
reference; on Python < 3.12 the interpreter aborts ("none_dealloc") after a
few thousand repaints. pyproject pins it out; this proves the installed one
is sound, in a child process so an abort cannot take the suite down.
"""

import subprocess
import sys


def test_void_qt_calls_do_not_leak_none_references():
    code = (
        "from PySide6 import QtCore\n"
        "p = QtCore.QPointF(1, 2)\n"
        "for _ in range(200_000): p.setX(3)\n"
        "print('alive')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "alive" in proc.stdout, proc.stderr[-500:]
