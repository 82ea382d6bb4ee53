#!/bin/sh
# Install everything the test suite needs, then run it.  Safe to re-run.
#   Debian packages: riscv64 cross compiler + libc, qemu-user (the oracle), gdb-multiarch;
#   for tests/system/test_debian_programs.py the host's own builds of the programs
#   it runs (busybox, lua5.4, sqlite3: the oracle) and the archive's keyring (its
#   riscv64 packages are fetched with a private apt configuration, not installed)
#   Python: a virtual environment in .venv with pydbt and its test extras; the
#   whole suite runs there (python3, CPython 3.11).  Then the unit and system
#   tests run again on CPython 3.12 and 3.13 where they are installed
#   (python3.12 / python3.13 on PATH, or ~/.pyenv/versions/3.1x*), each in its
#   own venv (.venv312, .venv313): the JIT emits different bytecode for each, so
#   there the guest programs run on two configurations only
#   (PYDBT_TEST_BACKENDS=jit,tiered,auto: the bytecode JIT alone, and the
#   default -backend auto, whose hot code is native, by whichever name a test
#   file calls it; the interpreter runs the same way on every CPython and is
#   covered by the first run), and the tests marked `once` are left out (what
#   they test is the same on every CPython: the Debian programs, the ELF fuzzer,
#   the disk cache, native code's random sequences).
# Arguments go to every pytest run.
set -e
cd "$(dirname "$0")/.."
need=""
for p in gcc-riscv64-linux-gnu libc6-dev-riscv64-cross qemu-user gdb-multiarch \
         busybox lua5.4 sqlite3 debian-archive-keyring; do
    dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"
done
if [ -n "$need" ]; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q -e '.[test,llvm]'
set +e
status=0
.venv/bin/python -m pytest -n 2 "$@" || status=1

# an interpreter for CPython $1 (e.g. 3.12), or nothing
find_python() {
    for py in "python$1" "$HOME"/.pyenv/versions/"$1"*/bin/python3; do
        if "$py" -c "import sys; sys.exit(sys.version_info[:2] != tuple(map(int, '$1'.split('.'))))" \
                >/dev/null 2>&1; then
            echo "$py"
            return
        fi
    done
}

for v in 3.12 3.13; do
    py=$(find_python "$v")
    venv=.venv$(echo "$v" | tr -d .)
    if [ -z "$py" ]; then
        echo "tests/run.sh: no CPython $v here: its tests are not run" >&2
        continue
    fi
    echo "=== CPython $v ($py): unit and system tests"
    { [ -x "$venv/bin/python" ] || "$py" -m venv "$venv"; } &&
        "$venv/bin/pip" install -q -e '.[test,llvm]' &&
        PYDBT_TEST_BACKENDS=jit,tiered,auto "$venv/bin/python" -m pytest -n 2 -m "not once" \
            tests/unit tests/system "$@" ||
        status=1
done
exit $status
