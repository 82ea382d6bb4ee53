#!/bin/sh
# Install everything the test suite needs, then run it.  Safe to re-run.
#   Debian packages: riscv64 cross compiler + libc, qemu-user (the oracle), gdb-multiarch
#   Python: a virtual environment in .venv with pydbt and its test extras
set -e
cd "$(dirname "$0")/.."
need=""
for p in gcc-riscv64-linux-gnu libc6-dev-riscv64-cross qemu-user gdb-multiarch; do
    dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"
done
if [ -n "$need" ]; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q -e '.[test]'
exec .venv/bin/python -m pytest -n 2 "$@"
