"""Random riscv64 instruction sequences: pydbt against qemu-riscv64.

Each test generates one freestanding assembly program holding many short random
sequences (integer, M, loads/stores, compressed forms picked by the assembler,
FP with every rounding mode and dynamic frm).  Before each sequence the
registers are loaded from a seeded table; after it every x and f register, fflags
and the scratch buffer are written to stdout.  The two emulators' outputs must be
byte-identical; on a mismatch the report names the sequence, the register and the
instructions.
"""
import random
import shutil
import struct
import subprocess
import sys

import pytest

CC = "riscv64-linux-gnu-gcc"
QEMU = "qemu-riscv64"
pytestmark = pytest.mark.skipif(not shutil.which(CC) or not shutil.which(QEMU),
                                reason="needs riscv64-linux-gnu-gcc and qemu-riscv64")

# registers the sequences may use: not zero, sp, gp, tp, s11 (the scratch base)
XREGS = [r for r in range(1, 32) if r not in (2, 3, 4, 27)]
R_OPS = ("add sub sll slt sltu xor srl sra or and addw subw sllw srlw sraw "
         "mul mulh mulhsu mulhu div divu rem remu mulw divw divuw remw remuw").split()
I_OPS = "addi slti sltiu xori ori andi addiw".split()
SH_OPS = ("slli", 64), ("srli", 64), ("srai", 64), ("slliw", 32), ("srliw", 32), ("sraiw", 32)
LOADS = ("lb", 1), ("lh", 2), ("lw", 4), ("ld", 8), ("lbu", 1), ("lhu", 2), ("lwu", 4)
STORES = ("sb", 1), ("sh", 2), ("sw", 4), ("sd", 8)
F_BIN = "fadd fsub fmul fdiv fmin fmax fsgnj fsgnjn fsgnjx".split()
F_RM = {"fadd", "fsub", "fmul", "fdiv"}
F_FMA = "fmadd fmsub fnmsub fnmadd".split()
F_CMP = "feq flt fle".split()
BUF = 256

INTERESTING = [0, 1, 2, 3, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0x7fffffff, 0x80000000, 0xffffffff,
               0x100000000, (1 << 63) - 1, 1 << 63, (1 << 64) - 1, (1 << 64) - 2, 31, 32, 63, 64]
FP_D = [0.0, -0.0, 1.0, -1.0, 0.1, 3.0, 1e308, -1e308, 5e-324, 2.2250738585072014e-308,
        float("inf"), float("-inf"), float("nan"), 1 / 3, 2.5, -2.5, 0.5, 1e-310, 123456789.75]
FP_S = [0.0, -0.0, 1.0, -1.5, 0.1, 3.4e38, -3.4e38, 1e-45, 1.17549435e-38, float("inf"),
        float("nan"), 1 / 3, 2.5, 16777217.0, 0.5]


def _dbits(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def _sbits(x):
    return 0xffffffff00000000 | struct.unpack("<I", struct.pack("<f", x))[0]


def gen_sequence(rng, n):
    x = lambda: f"x{rng.choice(XREGS)}"
    f = lambda: f"f{rng.randrange(32)}"
    rm = lambda: rng.choice(["rne", "rtz", "rdn", "rup", "rmm", "dyn"])
    out = []
    for _ in range(n):
        k = rng.random()
        if k < 0.25:
            out.append(f"{rng.choice(R_OPS)} {x()}, {x()}, {x()}")
        elif k < 0.4:
            out.append(f"{rng.choice(I_OPS)} {x()}, {x()}, {rng.randrange(-2048, 2048)}")
        elif k < 0.48:
            op, w = rng.choice(SH_OPS)
            out.append(f"{op} {x()}, {x()}, {rng.randrange(w)}")
        elif k < 0.52:
            out.append(f"lui {x()}, {rng.randrange(1 << 20)}")
        elif k < 0.6:
            op, size = rng.choice(LOADS)
            out.append(f"{op} {x()}, {rng.randrange(0, BUF - size + 1, size)}(s11)")
        elif k < 0.68:
            op, size = rng.choice(STORES)
            out.append(f"{op} {x()}, {rng.randrange(0, BUF - size + 1, size)}(s11)")
        elif k < 0.78:
            t = rng.choice("sd")
            op = rng.choice(F_BIN)
            suffix = f", {rm()}" if op in F_RM else ""
            out.append(f"{op}.{t} {f()}, {f()}, {f()}{suffix}")
        elif k < 0.82:
            t = rng.choice("sd")
            out.append(f"{rng.choice(F_FMA)}.{t} {f()}, {f()}, {f()}, {f()}, {rm()}")
        elif k < 0.85:
            t = rng.choice("sd")
            out.append(f"fsqrt.{t} {f()}, {f()}, {rm()}")
        elif k < 0.88:
            t = rng.choice("sd")
            out.append(f"{rng.choice(F_CMP)}.{t} {x()}, {f()}, {f()}")
        elif k < 0.9:
            out.append(f"fclass.{rng.choice('sd')} {x()}, {f()}")
        elif k < 0.95:
            i, t = rng.choice(["w", "wu", "l", "lu"]), rng.choice("sd")
            if rng.random() < 0.5:
                out.append(f"fcvt.{i}.{t} {x()}, {f()}, {rm()}")
            else:
                exact = t == "d" and i in ("w", "wu")       # gas takes no rm for these
                out.append(f"fcvt.{t}.{i} {f()}, {x()}" + ("" if exact else f", {rm()}"))
        elif k < 0.97:
            out.append(rng.choice([f"fcvt.s.d {f()}, {f()}, {rm()}", f"fcvt.d.s {f()}, {f()}",
                                   f"fmv.x.w {x()}, {f()}", f"fmv.w.x {f()}, {x()}",
                                   f"fmv.x.d {x()}, {f()}", f"fmv.d.x {f()}, {x()}"]))
        else:
            op = rng.choice(["amoadd", "amoswap", "amoxor", "amomax", "amominu"])
            t = rng.choice("wd")
            # addresses must be aligned: use the base register directly
            out.append(f"{op}.{t} {x()}, {x()}, (s11)")
    return out


def gen_program(seed, nseq, seqlen):
    rng = random.Random(seed)
    lines = [".option rvc", ".text", ".globl _start", "_start:", "la s11, scratch"]
    seqs = []
    for s in range(nseq):
        seq = gen_sequence(rng, seqlen)
        seqs.append(seq)
        lines.append(f"# sequence {s}")
        for r in XREGS:
            v = rng.choice(INTERESTING) if rng.random() < 0.5 else rng.getrandbits(64)
            lines.append(f"li x{r}, {v:#x}")
        for r in range(32):
            bits = _dbits(rng.choice(FP_D)) if rng.random() < 0.5 else _sbits(rng.choice(FP_S))
            if rng.random() < 0.05:
                bits &= 0xffffffff      # an improperly NaN-boxed single
            lines += [f"li t0, {bits:#x}", f"fmv.d.x f{r}, t0"]
        lines += [f"li t0, {rng.randrange(5)}", "fsrm t0", "fsflags zero"]
        lines += [f"li t0, {rng.getrandbits(64):#x}"] + [f"sd t0, {o}(s11)" for o in range(0, BUF, 8)]
        lines += [f"li t0, {rng.choice(INTERESTING):#x}", "sd t0, 0(s11)"]
        lines += seq
        lines += ["call dump"]
    lines += ["li a0, 0", "li a7, 93", "ecall"]
    # dump: x1..x31 except those used as scratch here, f0..f31, fflags, buffer -> stdout
    lines += ["dump:", "la t6, out"]
    lines += [f"sd x{r}, {8 * r}(t6)" for r in range(1, 31) if r != 2]   # not sp: stacks differ
    lines += ["mv t5, t6"]
    lines += [f"fsd f{r}, {256 + 8 * r}(t6)" for r in range(32)]
    lines += ["frflags t0", "sd t0, 512(t6)"]
    lines += [f"ld t0, {o}(s11)\nsd t0, {520 + o}(t6)" for o in range(0, BUF, 8)]
    lines += ["mv s10, ra", "li a0, 1", "mv a1, t6", f"li a2, {520 + BUF}", "li a7, 64", "ecall",
              "mv ra, s10", "ret"]
    lines += [".data", ".balign 8", f"scratch: .zero {BUF}", f"out: .zero {520 + BUF}"]
    return "\n".join(lines) + "\n", seqs


def _run(cmd):
    return subprocess.run(cmd, capture_output=True, timeout=300)


@pytest.mark.parametrize("backend", [["-backend", "interp"], ["-jit-threshold", "0"],
                                     pytest.param(["-backend", "llvm", "-jit-threshold", "0"],
                                                  marks=pytest.mark.once)],   # (native code)
                         ids=["interp", "jit", "llvm"])
@pytest.mark.parametrize("seed", range(12))
def test_random_sequences_match_qemu(seed, backend, tmp_path):
    nseq, seqlen = 40, 24
    src, seqs = gen_program(seed, nseq, seqlen)
    (tmp_path / "r.S").write_text(src)
    exe = tmp_path / "r"
    subprocess.run([CC, "-nostdlib", "-static", "-march=rv64gc", "-o", str(exe), str(tmp_path / "r.S")],
                   check=True, capture_output=True)
    q = _run([QEMU, str(exe)])
    assert q.returncode == 0 and len(q.stdout) == nseq * (520 + BUF), "qemu run failed"
    p = _run([sys.executable, "-m", "pydbt", "run", *backend, str(exe)])
    assert p.returncode == 0, p.stderr.decode()[-2000:]
    if p.stdout == q.stdout:
        return
    size = 520 + BUF
    for s in range(nseq):
        a, b = q.stdout[s * size:(s + 1) * size], p.stdout[s * size:(s + 1) * size]
        if a != b:
            qa = struct.unpack(f"<{size // 8}Q", a.ljust(size, b"\0"))
            pb = struct.unpack(f"<{size // 8}Q", b.ljust(size, b"\0"))
            diffs = []
            for i, (u, v) in enumerate(zip(qa, pb)):
                if u != v:
                    what = f"x{i}" if i < 32 else f"f{i - 32}" if i < 64 else "fflags" if i == 64 else f"buf+{(i - 65) * 8}"
                    diffs.append(f"{what}: qemu {u:#x} pydbt {v:#x}")
            pytest.fail(f"sequence {s} differs:\n  " + "\n  ".join(diffs[:10]) +
                        "\ninstructions:\n  " + "\n  ".join(seqs[s]))
