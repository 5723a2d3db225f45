"""Permissions of what strkin writes: private by default.

Profile datasets, rejects files, exports and search results hold DNA profiles of
families and children.  Every file strkin creates is ``0600`` (owner read/write)
and every directory it creates ``0700``, whatever the umask.  To share them with
a group (a lab's analysts in one Unix group), set ``STRKIN_SHARE_GROUP=1``:
files are then ``0640`` and directories ``0750`` (still never world-readable).
Existing directories are never changed.
"""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["share_group", "file_mode", "dir_mode", "make_dir", "protect"]

ENV = "STRKIN_SHARE_GROUP"


def share_group() -> bool:
    return os.environ.get(ENV, "").strip().lower() in ("1", "true", "yes", "on", "group")


def file_mode() -> int:
    return 0o640 if share_group() else 0o600


def dir_mode() -> int:
    return 0o750 if share_group() else 0o700


def make_dir(path) -> Path:
    """Create ``path`` (and missing parents) with the private directory mode; an
    existing directory is left as it is."""
    path = Path(path)
    missing = []
    p = path
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    path.mkdir(parents=True, exist_ok=True, mode=dir_mode())
    for d in missing:
        try:
            os.chmod(d, dir_mode())
        except OSError:
            pass
    return path


def protect(path) -> None:
    """Give a file strkin has just written the private file mode."""
    os.chmod(path, file_mode())
