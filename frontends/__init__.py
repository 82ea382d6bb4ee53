"""Guest ISA frontends, found by ELF e_machine.  A new ISA is one package plus one row."""
import importlib

# e_machine -> (name, module holding ARCH)
REGISTRY = {
    243: ("riscv64", "pydbt.frontends.riscv64.arch"),
}

KNOWN_MACHINES = {3: "i386", 8: "mips", 20: "ppc", 21: "ppc64", 22: "s390", 40: "arm",
                  62: "x86_64", 183: "aarch64", 243: "riscv64", 258: "loongarch"}


def all_frontends():
    """(name, ARCH) for every registered guest ISA."""
    return [(name, importlib.import_module(mod).ARCH) for name, mod in REGISTRY.values()]


def by_machine(e_machine):
    """The frontend for an ELF machine number, or None."""
    row = REGISTRY.get(e_machine)
    if row is None:
        return None
    return importlib.import_module(row[1]).ARCH
