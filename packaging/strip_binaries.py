"""Strip symbols and debug info off the bundle's shared libraries, but only where that is safe.

Used by packaging/mfstudio.spec instead of PyInstaller's ``strip=True``, which strips every binary
blindly: libraries that auditwheel vendored into wheels (``numpy.libs/``, ``scipy.libs/``...) were
rewritten by patchelf, and ``strip`` then writes program headers the loader rejects ("ELF load
command address/offset not page-aligned": numpy no longer imports). Here each library is stripped
into a cache folder and the copy is kept only if every loadable segment is still page-aligned and
the file still has its dynamic section; otherwise the original goes into the bundle unchanged.

Stripping removes only the static symbol table and debug sections (``strip --strip-unneeded``):
the code, the exported (dynamic) symbols and the relocations are untouched, so numba/llvmlite and
Qt load and behave the same; the gain is in the few unstripped giants (libpython 23 -> 6 MB,
libllvmlite 179 -> 160 MB, pyarrow's libraries 90 -> 72 MB).
"""

from __future__ import annotations

import hashlib
import shutil
import struct
import subprocess
from pathlib import Path

_PT_LOAD, _PT_DYNAMIC = 1, 2


def _load_segments_ok(path: Path) -> bool:
    """True if ``path`` is a 64-bit little-endian ELF whose PT_LOAD segments are congruent modulo their alignment."""
    with open(path, "rb") as f:
        head = f.read(64)
        if len(head) < 64 or head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
            return False
        phoff = struct.unpack_from("<Q", head, 0x20)[0]
        phentsize, phnum = struct.unpack_from("<HH", head, 0x36)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    if len(table) < phentsize * phnum:
        return False
    has_dynamic = False
    for i in range(phnum):
        p_type, _, p_offset, p_vaddr, _, _, _, p_align = struct.unpack_from("<IIQQQQQQ", table, i * phentsize)
        has_dynamic |= p_type == _PT_DYNAMIC
        if p_type == _PT_LOAD and p_align > 1 and (p_offset - p_vaddr) % p_align:
            return False
    return has_dynamic


def strip_binaries(binaries, cache: Path, log=print):
    """``binaries`` (PyInstaller TOC entries: name, source, kind) with safely stripped sources where it helps."""
    tool = shutil.which("strip")
    if tool is None:
        log("strip_binaries: no `strip` (binutils) found; libraries go in unstripped")
        return list(binaries)
    cache.mkdir(parents=True, exist_ok=True)
    out, saved, refused = [], 0, []
    for entry in binaries:
        name, source, kind = entry
        src = Path(source)
        if kind not in ("BINARY", "EXTENSION") or not src.is_file() or not _load_segments_ok(src):
            out.append(entry)
            continue
        stat = src.stat()
        key = hashlib.sha1(f"{src.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]
        target = cache / f"{key}-{src.name}"
        keep = cache / f"{key}-{src.name}.keep"  # marker: stripping did not help or was unsafe
        if not target.exists() and not keep.exists():
            tmp = cache / f"{key}-{src.name}.tmp"
            done = subprocess.run([tool, "--strip-unneeded", "-o", str(tmp), str(src)], capture_output=True)
            if done.returncode == 0 and not _load_segments_ok(tmp):
                keep.write_text("misaligned after strip\n")
            elif done.returncode != 0 or tmp.stat().st_size >= stat.st_size:
                keep.write_text("strip failed or saved nothing\n")
            else:
                tmp.replace(target)
            tmp.unlink(missing_ok=True)
        if target.exists():
            saved += stat.st_size - target.stat().st_size
            out.append((name, str(target), kind))
        else:
            if keep.read_text().startswith("misaligned"):
                refused.append(name)
            out.append(entry)
    log(f"strip_binaries: {saved / 1e6:.0f} MB of symbols removed"
        + (f"; kept {len(refused)} unstripped (stripping would misalign them): {', '.join(refused[:6])}"
           + ("..." if len(refused) > 6 else "") if refused else ""))
    return out
