#!/usr/bin/env python3
"""Empties the page cache of the given files (directories: every regular file under them).

scripts/bench uses it so that a read is timed from the disk, not from memory. Writing
dirty pages back first lets POSIX_FADV_DONTNEED drop them all; it needs no privilege,
unlike /proc/sys/vm/drop_caches, and touches nothing but these files.
"""
import os
import stat
import sys


def files(path):
    if not os.path.isdir(path):
        yield path
        return
    for directory, _, names in os.walk(path):
        for name in names:
            yield os.path.join(directory, name)


for root in sys.argv[1:]:
    for path in files(root):
        if not stat.S_ISREG(os.lstat(path).st_mode):
            continue  # sockets, links: nothing of theirs is in the page cache
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fdatasync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
