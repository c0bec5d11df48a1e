"""Files and directories that hold secrets (passwords.yml, the SQLite database, downloads in the data
directory): created with their final mode before a byte is written, never created open and tightened
afterwards. Files 0600, directories 0700, whatever the process's umask (a umask only removes bits).

No Django here: settings use it before Django is set up.
"""

import os
import stat
import tempfile
from pathlib import Path

FILE_MODE = 0o600
DIRECTORY_MODE = 0o700


def tighten(path: Path, mode: int) -> None:
    """Remove the bits beyond `mode` from an existing file or directory of this user (one made by an
    older version, or by hand); someone else's is left as it is."""
    try:
        found = path.stat()
    except FileNotFoundError:
        return
    if found.st_uid == os.geteuid() and stat.S_IMODE(found.st_mode) & ~mode:
        os.chmod(path, stat.S_IMODE(found.st_mode) & mode)


def private_directory(path, *, base=None) -> Path:
    """path as a directory only its owner may enter. Without base only path itself is private (its
    parents are made as usual); with base, every directory from below base down to path is."""
    path = Path(path)
    if base is None:
        parts = [path]
        path.parent.mkdir(parents=True, exist_ok=True)
    else:
        base = Path(base)
        parts = [base.joinpath(*path.relative_to(base).parts[:i + 1]) for i in range(len(path.relative_to(base).parts))]
        base.mkdir(parents=True, exist_ok=True)
    for part in parts:
        try:
            os.mkdir(part, DIRECTORY_MODE)
        except FileExistsError:
            if not part.is_dir():
                raise
            tighten(part, DIRECTORY_MODE)
    return path


def create_private_file(path) -> Path:
    """An empty file at path, made 0600 at creation (O_EXCL: never an existing file or a symlink);
    an existing one is tightened."""
    path = Path(path)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE))
    except FileExistsError:
        tighten(path, FILE_MODE)
    return path


def write_private(path, data: bytes | str) -> Path:
    """Write data as the whole content of path: into a new 0600 file next to it (mkstemp: O_EXCL,
    mode 0600), renamed over path when complete. Readers see the old content or the new, and the
    file is never readable by others, not even for a moment."""
    path = Path(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    fd, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return path
