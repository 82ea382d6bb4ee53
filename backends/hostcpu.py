"""What the host CPU can run of the native code pydbt makes itself (the
baseline tier: x64_emit.py; the process's runtime: x64_runtime.py), checked
without importing any of it (backends.unavailable asks before a program runs)."""
import os

# /proc/cpuinfo's names of what the code uses beyond x86-64's base: POPCNT, LZCNT, TZCNT
NEEDS = ("popcnt", "abm", "bmi1")
_flags = []


def flags():
    """The host CPU's feature flags (/proc/cpuinfo), read once."""
    if not _flags:
        try:
            with open("/proc/cpuinfo") as f:
                _flags.append(set(next((line.split(":", 1)[1].split() for line in f
                                        if line.startswith("flags")), [])))
        except OSError:
            _flags.append(set())
    return _flags[0]


def unsupported():
    """None when this host runs x86-64 code with POPCNT, LZCNT and TZCNT, else why not."""
    machine = os.uname().machine
    if machine not in ("x86_64", "AMD64"):
        return f"a {machine} host (the code is x86-64)"
    missing = [x for x in NEEDS if x not in flags()]
    return f"an x86-64 host without {', '.join(missing)}" if missing else None
