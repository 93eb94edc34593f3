"""A journal's page work, done by the writer thread through ctypes without holding the GIL:
faulting in the pages `log()` writes next, and msync.

The first store into each 4 KiB page of a shared file mapping is a page fault that goes into
the filesystem (ext4's page_mkwrite allocates the block and starts a journal handle): ~10 µs
on average, and up to 8-16 ms measured behind other processes' fsyncs. Taken by `log()`,
that is a training-thread stall. MADV_POPULATE_WRITE (Linux >= 5.14) takes the same faults
without changing a byte, and through ctypes without holding the GIL; the writer thread
runs it on the pages `log()` will write next. Elsewhere this does nothing, and msync
falls back to mmap.flush().
"""

from __future__ import annotations

import mmap
import sys
from typing import Any

MADV_POPULATE_WRITE = 23
PAGE = mmap.PAGESIZE

_madvise: Any = None
_msync: Any = None
MS_SYNC = 4  # Linux
_works = sys.platform == "linux"


def mapping_address(mm: mmap.mmap) -> int | None:
    """The address of `mm`'s first byte (the export is released at once, so `mm` can still
    be closed); None where populating is not available."""
    global _madvise, _works
    if not _works:
        return None
    try:
        import ctypes

        if _madvise is None:
            libc = ctypes.CDLL(None, use_errno=True)
            _madvise = libc.madvise
            _madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
            _madvise.restype = ctypes.c_int
        view = ctypes.c_char.from_buffer(mm)
        addr = ctypes.addressof(view)
        del view
        return addr
    except (ImportError, OSError, AttributeError, TypeError, ValueError):
        _works = False
        return None


def msync(addr: int, size: int) -> bool:
    """msync(MS_SYNC) the first `size` bytes of the mapping at `addr` without holding the
    GIL (mmap.flush() holds it for the whole write-back: a training-thread stall of up to
    hundreds of ms on a busy disk). False if not available here: use mmap.flush()."""
    if not _works or _madvise is None:
        return False
    import ctypes

    global _msync
    if _msync is None:
        libc = ctypes.CDLL(None, use_errno=True)
        _msync = libc.msync
        _msync.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        _msync.restype = ctypes.c_int
    if _msync(addr, size, MS_SYNC) != 0:
        raise OSError(ctypes.get_errno(), "msync failed")
    return True


def populate(addr: int, start: int, end: int) -> bool:
    """Fault in, writable, the pages covering bytes [start, end) of the mapping at `addr`.
    The caller keeps the mapping open meanwhile. False once the kernel refuses (too old)."""
    global _works
    if not _works or end <= start:
        return _works
    first = start - start % PAGE
    if _madvise(addr + first, end - first, MADV_POPULATE_WRITE) != 0:
        _works = False
    return _works
