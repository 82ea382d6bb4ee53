"""Assemble a TB's instruction list into a code object, fast.

The JIT emits `bytecode` objects (Instr, Label, TryBegin/TryEnd, SetLineno).
`Bytecode.to_code()` turns them into the package's concrete layer and then
into a code object, at ~3 us an instruction: most of it converting every Instr
into a ConcreteInstr and re-resolving labels pass after pass, generality our
TBs do not need.  Here the same conversion is two plain passes over the list
(constants, local and attribute names, jump offsets, the exception table), and
a third writes the code object's bytes, its location table (line numbers
only) and its exception table in CPython's formats, on a template code
object's `replace()`: the code object is the one `Bytecode.to_code()` would
build (tests compare them byte for byte), at ~1/3 of the package's
`ConcreteBytecode.to_code()` cost.

Only what the JIT emits is handled (the layout of CPython 3.11 to 3.13: inline
caches, relative jumps; 3.12 on: LOAD_ATTR's method bit, COMPARE_OP's mask bits);
anything else raises `Unsupported` and the caller falls back on
`Bytecode.to_code()`, as on any other version.
"""
import dis
import sys

try:
    from bytecode import Instr, Label, SetLineno, TryBegin, TryEnd, FreeVar
    from bytecode.instr import Compare
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
SUPPORTED = (_FOUND and VERSION in ((3, 11), (3, 12), (3, 13)) and (VERSION < (3, 12) or hasattr(Compare, "_get_mask"))
             and all(hasattr(Instr("NOP"), a) for a in ("_opcode", "_arg", "_location"))
             and isinstance(getattr(dis, "_inline_cache_entries", None), (list, dict)))

_CACHES = _cache_entries() if SUPPORTED else None
_HAS_CONST = frozenset(dis.hasconst)
_HAS_LOCAL = frozenset(op for op in dis.haslocal if dis.opname[op] in ("LOAD_FAST", "STORE_FAST"))
_HAS_FREE = frozenset(dis.hasfree)      # LOAD_DEREF, STORE_DEREF of a FreeVar (not cells)
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
    freevars, free_at, free_ops = [], {}, []
    # the ops, as parallel lists: opcode, argument, line; and for each its
    # size in code units without EXTENDED_ARG prefixes (1 + its caches) and
    # the prefixes it needs
    opcodes, args, lines_of, units, ext = [], [], [], [], []
    jumps = []          # [(index of a jump op, its Label)]
    labels = {}         # Label -> index of the op it precedes
    entries = []        # [first op, end op (exclusive), handler label, depth, lasti]
    open_try = {}
    line = first_lineno
    caches_of = _CACHES

    for it in items:
        cls = type(it)
        if cls is Instr:
            opcode, arg = it._opcode, it._arg
            loc = it._location
            if loc is not None and loc.lineno is not None:
                line = loc.lineno
            if isinstance(arg, Label):
                jumps.append((len(opcodes), arg))
                arg = 0
            elif opcode in _HAS_CONST:
                key = (type(arg), arg) if type(arg) in _PLAIN else (None, id(arg))
                index = const_at.get(key)
                if index is None:
                    index = const_at[key] = len(consts)
                    consts.append(arg)
                arg = index
            elif opcode in _HAS_LOCAL:
                index = var_at.get(arg)
                if index is None:
                    index = var_at[arg] = len(varnames)
                    varnames.append(arg)
                arg = index
            elif opcode in _HAS_FREE:
                if type(arg) is not FreeVar:
                    raise Unsupported(it.name)
                arg = _index(freevars, free_at, arg.name, arg.name)
                free_ops.append(len(opcodes))   # (+ the number of locals, once known)
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
            if arg is None:
                ext.append(0)
            else:
                arg = int(arg)
                ext.append(0 if arg < 0x100 else _ext(arg))
            opcodes.append(opcode)
            args.append(arg)
            lines_of.append(line)
            units.append(1 + caches_of[opcode])
        elif cls is SetLineno:
            line = it.lineno
        elif cls is Label:
            labels[it] = len(opcodes)
        elif cls is TryBegin:
            entry = open_try[it] = [len(opcodes), None, it.target, it.stack_depth, it.push_lasti]
            entries.append(entry)
        elif cls is TryEnd:
            open_try[it.entry][1] = len(opcodes)
        else:
            raise Unsupported(cls.__name__)

    nvars = len(varnames)
    for k in free_ops:                  # a free variable's slot follows the locals'
        args[k] += nvars
        ext[k] = _ext(args[k])

    # offsets (in code units): jump arguments depend on them and they on the
    # arguments' EXTENDED_ARG prefixes, so iterate until nothing grows
    n = len(opcodes)
    jumps = [(k, labels[label], opcodes[k] in _BACKWARD) for k, label in jumps]
    while True:
        starts = [0] * (n + 1)
        at = 0
        for k in range(n):
            starts[k] = at
            at += units[k] + ext[k]
        starts[n] = at
        grew = False
        for k, to, backward in jumps:
            after = starts[k + 1]
            target = starts[to]
            arg = after - target if backward else target - after
            if arg < 0:
                raise Unsupported("jump direction")
            args[k] = arg
            e = _ext(arg)
            if e > ext[k]:
                ext[k] = e
                grew = True
        if not grew:
            break

    # the code object, built here: its bytes, the location table (lines only:
    # 3.11's format, an entry per run of up to 8 code units of one line, "no
    # column" form) and the exception table, on a template's replace()
    code = bytearray()
    lines = bytearray()
    prev_line, run_line, run = first_lineno, None, 0
    cache_bytes = _CACHE_BYTES
    for k in range(n):
        opcode = opcodes[k]
        a = args[k] or 0
        e = ext[k]
        if e:
            for shift in range(8 * e, 0, -8):
                code += bytes((_EXTENDED_ARG, (a >> shift) & 0xFF))
        code.append(opcode)
        code.append(a & 0xFF)
        cb = cache_bytes[opcode]
        if cb:
            code += cb
        line = lines_of[k]
        if line != run_line:
            if run:
                prev_line = _push_lines(lines, run, run_line, prev_line)
            run_line, run = line, 0
        run += units[k] + e
    if run:
        _push_lines(lines, run, run_line, prev_line)

    table = bytearray()
    for first, end, handler, depth, lasti in entries:
        if end is None or end == first:
            continue
        start = starts[first] + ext[first]
        for value, mark in ((start, 0x80), (starts[end] - start, 0), (starts[labels[handler]], 0),
                            ((depth << 1) | lasti, 0)):
            _push_except(table, value, mark)
    nargs = len(argnames)
    template = _TEMPLATES.get(nargs) or _TEMPLATES.setdefault(nargs, _template(nargs))
    return template.replace(
        co_code=bytes(code), co_consts=tuple(consts), co_names=tuple(names), co_varnames=tuple(varnames),
        co_nlocals=len(varnames), co_freevars=tuple(freevars), co_stacksize=stacksize, co_flags=flags,
        co_filename=filename,
        co_name=name, co_qualname=name, co_firstlineno=first_lineno, co_linetable=bytes(lines),
        co_exceptiontable=bytes(table))


_EXTENDED_ARG = dis.opmap["EXTENDED_ARG"]
_CACHE_UNIT = bytes((_CACHE, 0))
_CACHE_BYTES = [_CACHE_UNIT * c for c in _CACHES] if SUPPORTED else None   # by opcode


def _template(nargs):
    """A code object with nargs positional arguments, to replace() the rest of."""
    ns = {}
    exec(f"def f({', '.join(f'a{i}' for i in range(nargs))}): pass", ns)
    return ns["f"].__code__


_TEMPLATES = {}


def _push_lines(buf, units, line, prev):
    """Location entries for `units` code units of `line` (the previous entry's
    line was prev): the first says the line's delta, the others 0.  -> line"""
    delta = line - prev
    while units > 0:
        size = min(units, 8)
        buf.append(0x80 | (13 << 3) | (size - 1))
        v = (-delta << 1) | 1 if delta < 0 else delta << 1
        while v >= 64:
            buf.append(64 | (v & 63))
            v >>= 6
        buf.append(v)
        units -= size
        delta = 0
    return line


def _push_except(buf, value, mark):
    """One exception-table number: 6-bit chunks, the most significant first, 64 on
    all but the last, `mark` (128) on an entry's first byte."""
    chunks = [value & 63]
    value >>= 6
    while value:
        chunks.append(value & 63)
        value >>= 6
    for i in range(len(chunks) - 1, -1, -1):
        buf.append(chunks[i] | (64 if i else 0) | mark)
        mark = 0
