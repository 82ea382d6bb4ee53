"""llvm_jit's code generation for the host's bit manipulation extensions
(HOST_FEATURES: BMI, BMI2, LZCNT, POPCNT), only those the host has, named in
the cache key; with BMI2 a rotate of a value still live is one `rorx` (no copy
first).  (The code's equivalence with the interpreter: test_backends.py, which
runs with them.)"""
import pytest

pytest.importorskip("llvmlite")

from pydbt.backends import llvm_jit


class FakeLLVM:
    def __init__(self, features):
        self.features = features

    def get_host_cpu_features(self):
        if self.features is None:
            raise RuntimeError("no CPUID here")
        return self.features


def test_only_the_features_the_host_has():
    llvm = FakeLLVM({"bmi2": True, "bmi": False, "popcnt": True, "avx512f": True})
    assert llvm_jit.host_features(llvm) == "+bmi2,+popcnt"
    assert llvm_jit.host_features(FakeLLVM({})) == ""
    assert llvm_jit.host_features(FakeLLVM(None)) == ""


def test_the_cache_key_names_them():
    import llvmlite.binding as llvm
    want = llvm_jit.host_features(llvm)
    assert f"\nfeatures {want}\n" in llvm_jit.environment()


ROTATE = """
define i64 @rot(i64 %a, i64 %b) {
  %x = trunc i64 %a to i32
  %r = call i32 @llvm.fshl.i32(i32 %x, i32 %x, i32 7)
  %s = call i32 @llvm.fshl.i32(i32 %x, i32 %x, i32 19)
  %t = xor i32 %r, %s
  %u = xor i32 %t, %x
  %w = zext i32 %u to i64
  ret i64 %w
}
declare i32 @llvm.fshl.i32(i32, i32, i32)
"""


def test_a_rotate_of_a_live_value_is_one_rorx():
    import llvmlite.binding as llvm
    llvm_jit.assembly("")                       # (LLVM initialized)
    if not llvm.get_host_cpu_features().get("bmi2"):
        pytest.skip("the host has no BMI2")
    asm = llvm_jit.assembly(ROTATE)
    assert asm.count("rorx") == 2, asm
