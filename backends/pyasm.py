"""Assemble a TB's instruction list into a code object, fast.

The JIT emits `bytecode` objects (Instr, Label, TryBegin/TryEnd, SetLineno).
`Bytecode.to_code()` turns them into the package's concrete layer and then
into a code object, at ~3 us an instruction: most of it converting every Instr
into a ConcreteInstr and re-resolving labels pass after pass, generality our
TBs do not need.  Here the same conversion is two plain passes over the list
(constants, local and attribute names, jump offsets, the exception table), and
the result goes through the package's own assembler (`ConcreteBytecode.
to_code()`), so the code object is the one `Bytecode.to_code()` would build:
tests compare them byte for byte.

Only what the JIT emits is handled (the layout of CPython 3.11 to 3.13: inline
caches, relative jumps; 3.12 on: LOAD_ATTR's method bit, COMPARE_OP's mask bits);
anything else raises `Unsupported` and the caller falls back on
`Bytecode.to_code()`, as on any other version.
"""
import dis
import sys

try:
    from bytecode import ConcreteBytecode, ConcreteInstr, Instr, Label, SetLineno, TryBegin, TryEnd
    from bytecode.concrete import ExceptionTableEntry
    from bytecode.instr import Compare, InstrLocation
    _FOUND = True
except Exception:               # another bytecode package: Bytecode.to_code() only
    _FOUND = False

VERSION = sys.version_info[:2]


def _cache_entries():
    """CACHE entries after each opcode (a list by opcode up to 3.12, a dict by name in 3.13)"""
    table = dis._inline_cache_entries
    if isinstance(table, dict):
        return [table.get(dis.opname[op], 0) for op in range(256)]
    return [table[op] if op < len(table) else 0 for op in range(256)]


# the code layouts this knows, and the bytecode package's internals it reads
# (present from 0.18 on; other versions fall back on Bytecode.to_code())
SUPPORTED = (_FOUND and VERSION in ((3, 11), (3, 12), (3, 13)) and hasattr(ConcreteInstr, "_from_trusted")
             and all(hasattr(Instr("NOP"), a) for a in ("_opcode", "_arg", "_location"))
             and isinstance(getattr(dis, "_inline_cache_entries", None), (list, dict)))

_CACHES = _cache_entries() if SUPPORTED else None
_HAS_CONST = frozenset(dis.hasconst)
_HAS_LOCAL = frozenset(op for op in dis.haslocal if dis.opname[op] in ("LOAD_FAST", "STORE_FAST"))
_HAS_NAME = frozenset(dis.opmap[n] for n in ("LOAD_ATTR", "LOAD_METHOD") if dis.opmap.get(n, 256) < 256)
_ATTR_FLAG = VERSION >= (3, 12)       # LOAD_ATTR's argument: (method?, name) -> name << 1 | method?
_JUMP = frozenset(getattr(dis, "hasjump", dis.hasjrel))
_BACKWARD = frozenset(op for op in _JUMP if "BACKWARD" in dis.opname[op])
_HAS_ARG = frozenset(dis.hasarg) if hasattr(dis, "hasarg") else \
    frozenset(range(dis.HAVE_ARGUMENT, 256))
_COMPARE = dis.opmap["COMPARE_OP"]
_CACHE = dis.opmap.get("CACHE", 0)
_PLAIN = (int, str, bool, type(None))


def _compare_arg(cmp):
    """COMPARE_OP's argument as bytecode encodes it (3.12: mask bits below the
    comparison; 3.13: and a cast-to-bool bit)"""
    if VERSION >= (3, 13):
        return cmp._get_mask() + ((cmp.value & 0b1111) << 5) + (cmp.value & 16)
    if VERSION >= (3, 12):
        return cmp._get_mask() + (cmp.value << 4)
    return cmp.value


class Unsupported(Exception):
    pass


def _ext(arg):
    """How many EXTENDED_ARG prefixes arg needs."""
    return 0 if arg < 0x100 else 1 if arg < 0x10000 else 2 if arg < 0x1000000 else 3


def _index(table, at, value, key):
    """value's index in table (appended the first time; `at` maps key -> index)."""
    index = at.get(key)
    if index is None:
        index = at[key] = len(table)
        table.append(value)
    return index


def assemble(items, *, argnames, name, filename, flags, stacksize, first_lineno=1):
    consts, const_at = [], {}
    varnames = list(argnames)
    var_at = {n: i for i, n in enumerate(varnames)}
    names, name_at = [], {}
    ops = []            # [opcode, arg, label or None, location]
    labels = {}         # Label -> index of the op it precedes
    entries = []        # [first op, end op (exclusive), handler label, depth, lasti]
    open_try = {}
    location = InstrLocation(first_lineno, None, None, None)

    for it in items:
        cls = type(it)
        if cls is Instr:
            opcode, arg = it._opcode, it._arg
            if it._location is not None and it._location.lineno is not None:
                location = it._location
            label = None
            if isinstance(arg, Label):
                label, arg = arg, 0
            elif opcode in _HAS_CONST:
                arg = _index(consts, const_at, arg,
                             (type(arg), arg) if type(arg) in _PLAIN else (None, id(arg)))
            elif opcode in _HAS_LOCAL:
                arg = _index(varnames, var_at, arg, arg)
            elif opcode in _HAS_NAME:
                if _ATTR_FLAG:
                    if type(arg) is not tuple:
                        raise Unsupported(it.name)
                    arg = (_index(names, name_at, arg[1], arg[1]) << 1) | arg[0]
                else:
                    arg = _index(names, name_at, arg, arg)
            elif opcode == _COMPARE:
                arg = _compare_arg(arg) if isinstance(arg, Compare) else arg
            elif opcode not in _HAS_ARG:
                arg = None
            elif not isinstance(arg, int):
                raise Unsupported(it.name)
            ops.append([opcode, int(arg) if arg is not None else None, label, location])
        elif cls is SetLineno:
            location = InstrLocation(it.lineno, None, None, None)
        elif cls is Label:
            labels[it] = len(ops)
        elif cls is TryBegin:
            entry = open_try[it] = [len(ops), None, it.target, it.stack_depth, it.push_lasti]
            entries.append(entry)
        elif cls is TryEnd:
            open_try[it.entry][1] = len(ops)
        else:
            raise Unsupported(cls.__name__)

    # offsets (in code units): jump arguments depend on them and they on the
    # arguments' EXTENDED_ARG prefixes, so iterate until nothing grows
    n = len(ops)
    ext = [0 if op[1] is None else _ext(op[1]) for op in ops]
    jumps = [k for k in range(n) if ops[k][2] is not None]
    while True:
        starts = [0] * (n + 1)
        at = 0
        for k in range(n):
            starts[k] = at
            at += 1 + ext[k] + _CACHES[ops[k][0]]
        starts[n] = at
        grew = False
        for k in jumps:
            op = ops[k]
            after = starts[k + 1]
            target = starts[labels[op[2]]]
            arg = after - target if op[0] in _BACKWARD else target - after
            if arg < 0:
                raise Unsupported("jump direction")
            op[1] = arg
            e = _ext(arg)
            if e > ext[k]:
                ext[k] = e
                grew = True
        if not grew:
            break

    out = []
    cache_at = {}                         # location -> its CACHE entry (shared)
    for k in range(n):
        opcode, arg, _, loc = ops[k]
        name_ = dis.opname[opcode]
        ins = ConcreteInstr._from_trusted(name_, opcode, arg, loc) if arg is not None else \
            ConcreteInstr(name_, location=loc)
        if ins.size // 2 - 1 != ext[k]:
            raise Unsupported("extended arg size")
        out.append(ins)
        caches = _CACHES[opcode]
        if caches:
            cache = cache_at.get(id(loc))
            if cache is None:
                cache = cache_at[id(loc)] = ConcreteInstr._from_trusted("CACHE", _CACHE, 0, loc)
            out.extend([cache] * caches)

    table = []
    for first, end, handler, depth, lasti in entries:
        if end is None or end == first:
            continue
        table.append(ExceptionTableEntry(starts[first] + ext[first], starts[end] - 1,
                                         starts[labels[handler]], depth, lasti))
    bc = ConcreteBytecode(out, consts=tuple(consts), names=tuple(names), varnames=varnames,
                          exception_table=table)
    bc.argcount = len(argnames)
    bc.argnames = list(argnames)
    bc.name = name
    bc.filename = filename
    bc.first_lineno = first_lineno
    bc.flags = flags
    return bc.to_code(stacksize=stacksize, check_pre_and_post=False,
                      compute_exception_stack_depths=False)
