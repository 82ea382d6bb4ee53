"""A file written whole or not at all, for caches that other runs read meanwhile."""
import os


def replace(path, data):
    """Write `data` (bytes or str) to `path` atomically: a temporary file in its
    directory (made if missing), renamed over it, so a reader sees the old file
    or the new one, never a part.  Raises OSError (a read-only or full disk);
    the temporary file goes then."""
    d = os.path.dirname(path)
    os.makedirs(d, exist_ok=True)
    import tempfile                      # (only when something is written)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=d)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode("ascii"))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
