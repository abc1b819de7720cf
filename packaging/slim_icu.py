"""Write a slim copy of Qt's ICU data library (libicudata.so.NN) for the bundle.

    python packaging/slim_icu.py OUT_DIR      # prints the path it wrote, or nothing

PySide6's libQt6Core links ICU, and ICU's data library is ~32 MB (30% of
PySide6): locale display names, currencies, units, time-zone names,
transliterators, collation tailorings and dictionaries of a few hundred
locales, and legacy code-page converters. Qt draws this app's widgets with its
own Unicode and CLDR tables; it calls ICU only for locale-aware collation
(QCollator, which falls back to plain comparison when ICU has no data),
legacy text codecs (QStringConverter: the app reads files with Python) and
IDNA. So the bundle keeps the ICU items that are not per-locale data (Unicode
properties, normalisation, case folding, UTS #46, the converter alias table),
the root and English resources, root collation, the break-iterator rules
without the large dictionaries and the time-zone tables, and drops the rest:
about 2 MB instead of 32 MB.

The data is ICU's "common data" package (format "CmnD"), linked into
libicudata as one symbol ``icudtNN_dat``. This script reads that symbol from
the ELF file, filters the package's table of contents (items stay sorted by
name and 16-byte aligned, as ICU's pkgdata writes them) and links a new
library exporting the same symbol with the same soname, using binutils' ``as``
and ``ld`` (the same package as ``strip``, which the spec runs anyway).

If anything is unexpected (no ELF, no such symbol, no binutils), it prints a
warning to stderr and writes nothing; the spec then keeps the full library.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

# Item names (without the "icudtNNl/" prefix) that are kept. Everything else is dropped.
_KEEP = [
    r"[^/]+\.(icu|nrm|cfu|spp)",  # Unicode properties, normalisation, UTS #46, confusables, stringprep
    r"(root|en|en_US|res_index|pool|supplementalData|likelySubtags|metadata|keyTypeData|"
    r"zoneinfo64|metaZones|timezoneTypes|windowsZones|plurals|numberingSystems|icuver|icustd|"
    r"dayPeriods|grammaticalFeatures|currencyNumericCodes)\.res",
    r"coll/(root|en|en_US|res_index|pool|ucadata)\.(res|icu)",
    r"brkitr/[^/]+\.brk",  # break rules (the dictionaries, *.dict, are the big part)
    r"brkitr/(root|en|en_US|res_index|pool)\.res",
]
_KEEP_RE = re.compile("(?:" + "|".join(_KEEP) + r")\Z")


def _warn(message: str) -> None:
    print(f"slim_icu: {message}; keeping the full ICU data", file=sys.stderr)


def _elf_symbol(data: bytes, name: bytes) -> tuple[int, int] | None:
    """(file offset, size) of a defined dynamic symbol in a 64-bit little-endian ELF file."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return None
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    for sh_name, sh_type, _, _, sh_offset, sh_size, sh_link, _, _, sh_entsize in sections:
        if sh_type != 11:  # SHT_DYNSYM
            continue
        strtab = sections[sh_link]
        for i in range(sh_size // sh_entsize):
            st_name, _, _, st_shndx, st_value, st_size = struct.unpack_from("<IBBHQQ", data, sh_offset + i * sh_entsize)
            start = strtab[4] + st_name
            if st_shndx and data[start:data.index(b"\0", start)] == name:
                section = sections[st_shndx]
                return section[4] + (st_value - section[3]), st_size
    return None


def filter_package(blob: bytes) -> tuple[bytes, int, int]:
    """The common-data package with only the kept items; returns (package, kept, total)."""
    header_size, magic1, magic2 = struct.unpack_from("<HBB", blob, 0)
    if (magic1, magic2) != (0xDA, 0x27) or blob[12:16] != b"CmnD" or blob[8] != 0:  # little-endian CmnD
        raise ValueError("not a little-endian ICU common data package")
    toc = blob[header_size:]
    count = struct.unpack_from("<I", toc, 0)[0]
    entries = [struct.unpack_from("<II", toc, 4 + 8 * i) for i in range(count)]
    items = []
    for i, (name_offset, data_offset) in enumerate(entries):
        name = toc[name_offset:toc.index(b"\0", name_offset)].decode("ascii")
        end = entries[i + 1][1] if i + 1 < count else len(toc)
        items.append((name, toc[data_offset:end]))
    kept = [(n, d) for n, d in items if _KEEP_RE.match(n.split("/", 1)[1] if "/" in n else n)]
    if not any(n.endswith("/cnvalias.icu") for n, _ in kept) or not any(n.endswith("/root.res") for n, _ in kept):
        raise ValueError("the package does not look like ICU's (no cnvalias.icu or root.res)")
    # Layout as pkgdata writes it: count, (name, data) offsets, names, then 16-byte aligned items.
    names = b"".join(n.encode("ascii") + b"\0" for n, _ in kept)
    table_size = 4 + 8 * len(kept)
    offset = table_size + len(names)
    offset += -(header_size + offset) % 16  # items 16-byte aligned from the start of the package
    name_offsets, data_offsets, body = [], [], bytearray()
    cursor = table_size
    for n, d in kept:
        name_offsets.append(cursor)
        cursor += len(n) + 1
    for _, d in kept:
        data_offsets.append(offset + len(body))
        body += d
        body += b"\0" * (-len(body) % 16)
    out = bytearray(blob[:header_size])
    out += struct.pack("<I", len(kept))
    for no, do in zip(name_offsets, data_offsets):
        out += struct.pack("<II", no, do)
    out += names
    out += b"\0" * (header_size + offset - len(out))
    out += body
    return bytes(out), len(kept), count


def slim(library: Path, out_dir: Path) -> Path | None:
    match = re.fullmatch(r"libicudata\.so\.(\d+)", library.name)
    if not match:
        _warn(f"{library.name} is not named libicudata.so.NN")
        return None
    symbol = f"icudt{match.group(1)}_dat"
    data = library.read_bytes()
    found = _elf_symbol(data, symbol.encode())
    if found is None:
        _warn(f"no {symbol} in {library}")
        return None
    start, size = found
    try:
        package, kept, total = filter_package(data[start:start + size])
    except ValueError as exc:
        _warn(str(exc))
        return None
    assembler, linker = shutil.which("as"), shutil.which("ld")
    if not (assembler and linker):
        _warn("binutils (as, ld) not found")
        return None
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / library.name
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "data.bin").write_bytes(package)
        (tmp / "data.s").write_text(
            "\t.section .rodata\n"
            f"\t.globl {symbol}\n\t.type {symbol}, @object\n\t.balign 16\n"
            f"{symbol}:\n\t.incbin \"{tmp / 'data.bin'}\"\n\t.size {symbol}, . - {symbol}\n"
            "\t.section .note.GNU-stack,\"\",@progbits\n"
        )
        try:
            subprocess.run([assembler, "-o", str(tmp / "data.o"), str(tmp / "data.s")], check=True)
            subprocess.run([linker, "-shared", "--build-id=none", "-soname", library.name, "-z", "noexecstack",
                            "-o", str(target), str(tmp / "data.o")], check=True)
        except (OSError, subprocess.CalledProcessError) as exc:
            _warn(f"linking failed: {exc}")
            return None
    if _elf_symbol(target.read_bytes(), symbol.encode()) is None:
        _warn("the new library has no data symbol")
        return None
    print(f"slim_icu: {library.name}: kept {kept} of {total} items, {size / 1e6:.1f} MB -> "
          f"{target.stat().st_size / 1e6:.1f} MB", file=sys.stderr)
    return target


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    import PySide6

    libraries = sorted((Path(PySide6.__file__).parent / "Qt" / "lib").glob("libicudata.so.*"))
    if len(libraries) != 1:
        _warn(f"expected one libicudata.so.NN in PySide6, found {len(libraries)}")
        return 0
    target = slim(libraries[0], Path(argv[0]))
    if target is not None:
        print(target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
