"""DiskCache: results kept between runs, so a restart does not compute them again.

Every entry is found by a key computed from everything the result depends on (file stamps,
content hashes, skillgate's version), so a cache can miss but never serve a stale result.
Files are written atomically (a temporary file, then a rename). A file that cannot be read
back is ignored with one warning and written again. A file written by other code (the
version stamp, pickled first on its own, includes a digest of skillgate's source; a file of an
older layout names classes that moved) is a plain miss, read no further and written again,
without a warning: every upgrade makes one. A folder that cannot be written leaves
skillgate working without the cache, with one warning. Pickled entries are read only from a
folder that belongs to the current user and that no one else may write.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import logging
import os
import pickle
import stat
import tempfile
from pathlib import Path
from typing import Any

from skillgate import __version__

logger = logging.getLogger(__name__)

MAX_ENTRY_BYTES = 1_000_000_000


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """skillgate's version and a digest of its own source: a cache written by other code (even
    an unreleased edit of the same version) is never read back into objects it does not fit."""
    return source_digest(Path(__file__).resolve().parent.parent)  # every layer, not just this one


def source_digest(package: Path) -> str:
    """A digest of the version and every module under `package`, subpackages included."""
    digest = hashlib.sha256(__version__.encode())
    for source in sorted(package.rglob("*.py")):
        digest.update(source.relative_to(package).as_posix().encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()[:16]


_warned: set[tuple[str, str]] = set()


def _warn_once(folder: Path, problem: str, message: str, *args: object) -> None:
    if (str(folder), problem) not in _warned:
        _warned.add((str(folder), problem))
        logger.warning(message, *args)


class DiskCache:
    """Pickled entries under `folder/kind/`; `folder=None` disables the cache."""

    def __init__(self, folder: Path | None, kind: str) -> None:
        self.base = folder
        self.folder = folder / kind if folder is not None else None

    def _path(self, name: str) -> Path | None:
        return self.folder / f"{name}.pickle" if self.folder is not None else None

    def read(self, name: str) -> Any | None:
        path = self._path(name)
        if path is None or not self._private():
            return None
        try:
            info = path.stat()
        except OSError:
            return None  # not written yet
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_ENTRY_BYTES:
            _warn_once(path, "odd", "cache file %s is not a regular file of sane size; ignoring it", path)
            return None
        collecting = gc.isenabled()
        gc.disable()  # unpickling makes many objects and no garbage: collections only cost time
        try:
            with path.open("rb") as handle:
                version = pickle.load(handle)  # a header of its own: a file of other code is not unpickled
                if version != code_version():
                    return None
                value = pickle.load(handle)
        except (ModuleNotFoundError, AttributeError):  # a file of older code (pickled objects moved)
            return None
        except Exception as exc:  # a truncated or foreign file: recompute, and write it again
            _warn_once(
                path, "corrupt", "cache file %s cannot be read (%s); rebuilding it", path, type(exc).__name__
            )
            return None
        finally:
            if collecting:
                gc.enable()
        return value

    def read_keyed(self, name: str, key: str) -> Any | None:
        """The value written under `name` with this `key`; None when it was written with another.

        One file per `name` (a catalog, a profile): a changed catalog replaces its entry instead
        of adding one, so the cache never grows past what is in use.
        """
        stored = self.read(name)
        if isinstance(stored, tuple) and len(stored) == 2 and stored[0] == key:
            return stored[1]
        return None

    def write_keyed(self, name: str, key: str, value: Any) -> None:
        self.write(name, (key, value))

    def write(self, name: str, value: Any) -> None:
        path = self._path(name)
        if path is None or self.folder is None:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".pickle")
            try:
                with os.fdopen(handle, "wb") as out:
                    pickle.dump(code_version(), out, protocol=pickle.HIGHEST_PROTOCOL)
                    pickle.dump(value, out, protocol=pickle.HIGHEST_PROTOCOL)
                os.replace(temporary, path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError as exc:
            _warn_once(  # once per cache folder, whichever kind found it
                self.base or self.folder,
                "unwritable",
                "cache folder %s cannot be written (%s); working without it",
                self.base,
                exc.strerror or exc,
            )

    def _private(self) -> bool:
        """The folder is the current user's and no one else may write it (a pickle is code)."""
        assert self.folder is not None
        try:
            info = self.folder.stat()
        except OSError:
            return False
        if info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            _warn_once(
                self.folder, "shared", "cache folder %s is writable by others; not reading it", self.folder
            )
            return False
        return True
