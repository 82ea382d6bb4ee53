"""A Debian 13 ("trixie") riscv64 sysroot made of the archive's own packages.

`prepare()` returns the sysroot's path, building it on first use:
  1. a private APT configuration under CACHE/apt (its own sources list naming
     trixie on the mirror this machine's apt uses, its own lists, cache and an
     empty dpkg status; APT::Architecture "riscv64"): the machine's apt state
     is never read or written;
  2. `apt-get update`, then `apt-cache depends --recurse` (Depends and
     Pre-Depends only) resolves PACKAGES and the libraries they need, and
     `apt-get download` fetches those .debs into CACHE/debs;
  3. `dpkg -x` unpacks each into a fresh sysroot; trixie ships everything
     under /usr, so `bin`, `sbin`, `lib` become links into it (what the
     usrmerge layout gives a real system);
  4. Python's standard library is byte-compiled, as python3.13-minimal's
     postinst does on a real system (py3compile), by a host CPython 3.13 when
     there is one (the .pyc format is the same on every platform; the guest
     checks the magic number and the source's mtime and size and recompiles
     what does not match).  Without one the guest compiles from source and
     writes the .pyc files itself on its first run.
A stamp (the package list and the .deb names) makes later calls return at
once without the network; a lock file serialises concurrent callers (xdist).
Delete CACHE to fetch anew.

CACHE is $PYDBT_DEBIAN_CACHE, else tests/_build/debian (ignored by git).
By hand: `python tests/system/debian_sysroot.py [CACHE]` prints the sysroot.
"""
import fcntl
import glob
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

SUITE = "trixie"
ARCH = "riscv64"
PACKAGES = ["busybox-static", "coreutils", "gzip", "lua5.4", "sqlite3", "python3.13-minimal"]
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEFAULT_CACHE = Path(__file__).resolve().parents[1] / "_build" / "debian"
STAMP_VERSION = 1


class Unavailable(Exception):
    """The sysroot cannot be made here (no apt/dpkg, the archive unreachable)."""


def cache_dir():
    return Path(os.environ.get("PYDBT_DEBIAN_CACHE") or DEFAULT_CACHE)


def host_mirror():
    """The Debian mirror this machine's apt uses (deb822 or one-line sources),
    else deb.debian.org: the same host serves trixie."""
    if os.environ.get("PYDBT_DEBIAN_MIRROR"):
        return os.environ["PYDBT_DEBIAN_MIRROR"].rstrip("/")
    files = ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*"))
    for name in files:
        try:
            text = open(name, encoding="utf-8", errors="replace").read()
        except OSError:
            continue
        uris = re.findall(r"^\s*URIs:\s*(.+)$", text, re.M)
        uris = [u for line in uris for u in line.split()]
        uris += re.findall(r"^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)", text, re.M)
        for u in uris:
            if re.fullmatch(r"https?://[^ ]+/debian/?", u):
                return u.rstrip("/")
    return DEFAULT_MIRROR


def _apt_config(apt):
    """Write the private APT configuration under `apt`; returns the environment to run apt with."""
    for d in ("state/lists/partial", "cache/archives/partial", "etc/sources.list.d",
              "etc/preferences.d", "etc/apt.conf.d"):
        (apt / d).mkdir(parents=True, exist_ok=True)
    (apt / "state/status").touch()
    (apt / "etc/sources.list").write_text(
        f"deb [arch={ARCH} signed-by={KEYRING}] {host_mirror()} {SUITE} main\n")
    (apt / "apt.conf").write_text("".join(f'{k} "{v}";\n' for k, v in [
        ("Dir::State", apt / "state"), ("Dir::State::status", apt / "state/status"),
        ("Dir::Cache", apt / "cache"), ("Dir::Etc::SourceList", apt / "etc/sources.list"),
        ("Dir::Etc::SourceParts", apt / "etc/sources.list.d"),
        ("Dir::Etc::Preferences", apt / "etc/preferences"),
        ("Dir::Etc::PreferencesParts", apt / "etc/preferences.d"),
        ("APT::Architecture", ARCH), ("Acquire::Languages", "none"),
        ("APT::Sandbox::User", "root" if os.getuid() == 0 else ""),
    ] if v != "") + f'APT::Architectures {{ "{ARCH}"; }};\n')
    return dict(os.environ, APT_CONFIG=str(apt / "apt.conf"), LC_ALL="C")


def _apt(argv, env, cwd=None, timeout=600):
    try:
        r = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise Unavailable(f"{argv[0]}: {e}") from None
    if r.returncode != 0 or re.search(r"^(E:|Err:)", r.stdout + r.stderr, re.M):
        tail = "; ".join((r.stderr or r.stdout).strip().splitlines()[-3:])
        raise Unavailable(f"`{' '.join(argv[:2])}` failed (exit {r.returncode}): {tail}")
    return r.stdout


def resolve(env):
    """PACKAGES and, recursively, what they depend on (real packages only)."""
    out = _apt(["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests",
                "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances", *PACKAGES], env)
    return sorted({line.strip() for line in out.splitlines() if line and not line[0].isspace()
                   and not line.startswith("<")})


def byte_compile(root):
    """Byte-compile root's Python standard library with a host CPython 3.13
    (see the module comment); returns the interpreter used, or None."""
    libs = sorted(root.glob("usr/lib/python3.*"))
    if not libs:
        return None
    version = libs[0].name[len("python"):]
    cands = [shutil.which(f"python{version}")]
    cands += sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}*/bin/python3")))
    for py in filter(None, cands):
        ok = subprocess.run([py, "-c", f"import sys; sys.exit(sys.version_info[:2] != {tuple(map(int, version.split('.')))})"],
                            capture_output=True).returncode == 0
        if ok:
            subprocess.run([py, "-m", "compileall", "-q", "-j", "0", "-d", f"/usr/lib/python{version}",
                            str(libs[0])], capture_output=True, timeout=600)
            return py
    return None


def _build(cache):
    for tool in ("apt-get", "apt-cache", "dpkg"):
        if shutil.which(tool) is None:
            raise Unavailable(f"{tool} is not installed (needed to fetch Debian's riscv64 packages)")
    if not os.path.exists(KEYRING):
        raise Unavailable(f"{KEYRING} is missing (package debian-archive-keyring)")
    env = _apt_config(cache / "apt")
    _apt(["apt-get", "update", "-q"], env)
    names = resolve(env)
    debs = cache / "debs"
    debs.mkdir(exist_ok=True)
    _apt(["apt-get", "download", "-q", *names], env, cwd=debs)
    files = []
    for n in names:
        found = sorted(debs.glob(f"{n}_*_{ARCH}.deb")) + sorted(debs.glob(f"{n}_*_all.deb"))
        if not found:
            raise Unavailable(f"apt-get download gave no .deb for {n}")
        files.append(found[-1])
    tmp = cache / "sysroot.new"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    for f in files:
        r = subprocess.run(["dpkg", "-x", str(f), str(tmp)], capture_output=True, text=True)
        if r.returncode:
            raise Unavailable(f"dpkg -x {f.name}: {r.stderr.strip()}")
    for d in ("bin", "sbin", "lib"):
        if not (tmp / d).exists():
            os.symlink(f"usr/{d}", tmp / d)
    compiled_by = byte_compile(tmp)
    stamp = {"version": STAMP_VERSION, "packages": PACKAGES, "debs": [f.name for f in files],
             "mirror": host_mirror(), "byte_compiled_by": compiled_by}
    (tmp / ".pydbt-sysroot.json").write_text(json.dumps(stamp, indent=1) + "\n")
    root = cache / "sysroot"
    shutil.rmtree(root, ignore_errors=True)
    os.replace(tmp, root)
    return root


def _stamp(root):
    try:
        s = json.loads((root / ".pydbt-sysroot.json").read_text())
    except (OSError, ValueError):
        return None
    return s if s.get("version") == STAMP_VERSION and s.get("packages") == PACKAGES else None


def prepare(cache=None):
    """The sysroot's Path, built if needed; raises Unavailable with the reason."""
    cache = Path(cache or cache_dir()).resolve()
    root = cache / "sysroot"
    if _stamp(root):
        return root
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _stamp(root):
            return root
        return _build(cache)


def stamp(root):
    """What the sysroot holds (the stamp's contents)."""
    return _stamp(Path(root))


if __name__ == "__main__":
    try:
        print(prepare(sys.argv[1] if len(sys.argv) > 1 else None))
    except Unavailable as e:
        print(f"debian_sysroot: {e}", file=sys.stderr)
        sys.exit(1)
