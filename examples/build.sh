#!/bin/sh
# Rebuild the bundled example (needs Debian's gcc-riscv64-linux-gnu).
cd "$(dirname "$0")" && riscv64-linux-gnu-gcc -static -nostdlib -ffreestanding -O2 -march=rv64gc \
    -fno-asynchronous-unwind-tables -Wl,--build-id=none -s -o hello hello.c
