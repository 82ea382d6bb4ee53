"""Signal numbers as gdb's remote protocol speaks them.

gdb's packets (`T05`, `C1e`, `QPassSignals`, `X0b`) carry gdb's own,
target-independent numbering (gdb's `enum gdb_signal`), not Linux's: SIGUSR1 is
30 there, SIGCHLD 20, the real-time signals start at 45.  This is the table for
the generic Linux numbering (riscv64, aarch64, x86_64 and most Linux ABIs);
signals gdb has no number for are not reported to it (they go to the guest as
usual).
"""

# Linux signal number -> gdb's number
_TO_GDB = {
    1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 10, 8: 8, 9: 9, 10: 30, 11: 11, 12: 31, 13: 13, 14: 14,
    15: 15, 17: 20, 18: 19, 19: 17, 20: 18, 21: 21, 22: 22, 23: 16, 24: 24, 25: 25, 26: 26, 27: 27,
    28: 28, 29: 23, 30: 32, 31: 12, 32: 77, 64: 78,
}
_TO_GDB.update({n: 45 + n - 33 for n in range(33, 64)})      # SIGRTMIN+1.. -> REALTIME_33..63
_FROM_GDB = {g: n for n, g in _TO_GDB.items()}


def to_gdb(sig):
    """gdb's number for a Linux signal, None when gdb has none (SIGSTKFLT)."""
    return _TO_GDB.get(sig)


def from_gdb(num):
    """The Linux signal for gdb's number, None when there is none."""
    return _FROM_GDB.get(num)
