"""Opening the files a user names (cases, configs): regular files only.

A FIFO or a device given as a path would block for ever or never end; they are refused with a
:class:`NotRegularFile` error whose message names what the path is.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

__all__ = ["NotRegularFile", "open_regular"]


class NotRegularFile(OSError):
    """The path is a FIFO, a device, a socket: not a file kernelbench reads."""


def open_regular(path: Path) -> BinaryIO:
    """``path`` opened for reading if it is a regular file (else :class:`NotRegularFile`).

    The file is opened without blocking and checked on the open descriptor, so nothing can be swapped
    in between the check and the read.
    """
    st = path.stat()
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(path)
    if not stat.S_ISREG(st.st_mode):
        raise NotRegularFile(f"it is not a regular file (a {_file_kind(st.st_mode)}), and only files are read")
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(f"it is not a regular file (a {_file_kind(mode)}), and only files are read")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _file_kind(mode: int) -> str:
    for test, kind in ((stat.S_ISFIFO, "FIFO"), (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
                       (stat.S_ISSOCK, "socket"), (stat.S_ISDIR, "folder")):
        if test(mode):
            return kind
    return "special file"
