"""Region shapes kept across runs: the profile's answers, replayed.

A native region's shape (which paths it follows, where it ends, where it may
be entered too) is the frontend's translation guided by the profile's answers
at the moment the region is formed (tiering.Profile: `ran(pc)`,
`entry(pc, inside)`, and the engine's `entries(pc, inside)`), and that moment
depends on the run: which blocks had run, what the compile thread had finished.
Given the same guest code and the same answers, translation makes the same
block, so the same LLVM IR text, so the same key in the disk cache of native
code (backends/llvm_cache.py).  So for each native region formed, the answers
are recorded, in the order they were asked, with the key of the region's
object, per (backend name, start pc); a later run of the same program forming
a region there answers the frontend from the record (`Replay`), and the
region's object loads from the disk cache (~1 ms) instead of being compiled.

A record is only a hint: any answers give a correct block (the profile only
guides), so a stale record (other code at that pc: a changed library, code
written at run time) costs a miss, never a wrong result.  A replay follows the
record while each query is the one recorded (the same kind at the same pc);
at the first that is not (the guest code differs) it answers from the live
profile for the rest (`diverged`).

Warm promotion (the engine's `_promote`): a hot block whose record's object
is in the disk cache (`cached`: its key's file exists, one stat, the key
being the one the record's run looked its object up by) skips the warm-up
and the payback rule, and goes straight to the highest tier whose object is
cached (under auto: the optimized level, not quick code first), from the
interpreter too (not through the bytecode JIT; in the guest's thread, as the
interpreter's promotions are).  And when a program's log has records, the
compile thread loads the native tier (llvmlite) at once, beside the guest,
instead of at the first compile.

The records of a program are one file, `regions/<program key>.rlog` under the
code cache's directory; the program key is a hash of the main executable's
bytes, the sysroot (-L), pydbt's version, the guest architecture and the
engine's settings that change a region's text (-stats counts instructions in
the code; -d nochain; -one-insn-per-tb; -disable-pass): a run of other settings
keeps records of its own (a forked child shares its parent's; an execve'd
program has its own).  The file is read once per program; a record added
or changed is a line appended to it
(one O_APPEND write: concurrent runs' lines do not mix; the last line of a
region wins; a line cut short, by a run killed while writing, is no
record).  A file of another format, or mostly of lines made again since
(COMPACT), is written anew at the run's first record (its records merged
with this run's, the newest MAX_RECORDS) to a temporary file renamed over
it; a missing, unreadable or corrupt file is no records.  Without a code cache
(`-code-cache off`) there is no log.  `-stats`: regions_replayed (formed from
a record), regions_replay_hits (whose key was the record's: the object
loaded), regions_replay_diverged, regions_warm (promoted without the
warm-up and payback).

Architecture-neutral: it knows pcs, tiers' names and the executable's bytes.
"""
import os
import threading
from _blake2 import blake2b

from . import atomicfile
from .stats import STATS

FORMAT = "pydbt-regions 2"
MAX_RECORDS = 4096                    # records kept per program (the newest)
COMPACT = 2                           # the file is written anew past this many lines a record
END = " ."                            # a record's line ends so (a line cut short is no record)
MAX_KEYS = 4                          # object keys kept per record (the newest)


def program_key(exe_path, sysroot, variant):
    """Identifies a program's code: its executable's bytes (a file over
    HASH_MAX: its path, inode, size and mtime), the sysroot its
    interpreter and libraries come from, pydbt's version, and `variant` (the
    guest architecture, and the engine's settings that change a region's
    text: -stats' counting in the code, for one).  None if the executable
    cannot be read."""
    from . import __version__
    h = blake2b(digest_size=16)
    try:
        with open(exe_path, "rb") as f:
            st = os.fstat(f.fileno())
            memo = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, sysroot, variant)
            if memo in _keys:
                return _keys[memo]
            if st.st_size > HASH_MAX:
                # (a huge file, sparse most likely: its identity instead of its
                # bytes; a key is only a hint, the records are checked anyway)
                h.update(f"{exe_path}\0{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}".encode())
            else:
                while True:
                    chunk = f.read(1 << 20)
                    if not chunk:
                        break
                    h.update(chunk)
    except (OSError, TypeError, ValueError):
        return None
    h.update(f"\0{sysroot or ''}\0{variant}\0{__version__}".encode())
    key = _keys[memo] = h.hexdigest()
    return key


HASH_MAX = 256 << 20                  # an executable bigger than this is known by its inode and mtime
_keys = {}                            # (file identity, sysroot, variant) -> key


def _encode(answers):
    return ",".join(f"{k}{pc:x}{'+' if a else '-'}" for k, pc, a in answers)


def _decode(text):
    out = []
    if text:
        for item in text.split(","):
            out.append((item[0], int(item[1:-1], 16), item[-1] == "+"))
    return out


class Replay:
    """A profile for the frontend that answers from `given` (a record's
    answers, or None), in order, while each query is the one recorded, and
    from `live` (the run's Profile) once one is not; it logs every answer
    it gives (`answers`: the region's new record)."""

    def __init__(self, live, given):
        self.live = live
        self.native = getattr(live, "native", False)
        self.start = getattr(live, "start", None)
        self.tier = getattr(live, "tier", None)
        self.given = given
        self.replayed = given is not None
        self.diverged = False
        self.at = 0
        self.answers = []
        self._entries = getattr(live, "entries", None)
        if self._entries is None:
            self.entries = None                  # (the frontend asks no entries then)

    def _ask(self, kind, pc, fn, *args):
        given = self.given
        if given is not None:
            i = self.at
            if i < len(given) and given[i][0] == kind and given[i][1] == pc:
                self.at = i + 1
                answer = given[i][2]
            else:                                # (other code than recorded: live from here)
                self.given, self.diverged = None, True
                answer = bool(fn(*args))
        else:
            answer = bool(fn(*args))
        self.answers.append((kind, pc, answer))
        return answer

    def ran(self, pc):
        return self._ask("r", pc, self.live.ran, pc)

    def entries(self, pc, inside):
        return self._ask("n", pc, self._entries, pc, inside)

    def entry(self, pc, inside=()):
        return self._ask("e", pc, self.live.entry, pc, inside)

    def done(self):
        """After translation: did it follow the whole record?"""
        if self.given is not None and self.at != len(self.given):
            self.given, self.diverged = None, True
        return self.replayed and not self.diverged


class RegionLog:
    """The records of one program (see the overview): (name, pc) -> (object
    keys, the newest last; answers)."""

    def __init__(self, root, key):
        self.path = os.path.join(root, "regions", key + ".rlog")
        self.lock = threading.Lock()
        self.records, whole, lines = self._read()  # the runs' before: replayed
        self.mine = {}                            # this run's (written; not replayed:
                                                  # re-forming a region in this run
                                                  # follows the live profile)
        self.negative = set()                     # (name, pc) found uncached once
        # (written anew at the first record: a file of another format, or
        # mostly records made again since)
        self.rewrite = not whole or lines > COMPACT * len(self.records) + 64

    @classmethod
    def open(cls, disk, exe_path, sysroot, variant):
        """The log of the program, or None (no code cache, no readable executable)."""
        if disk is None or not getattr(disk, "enabled", False) or not exe_path:
            return None
        key = program_key(exe_path, sysroot, variant)
        return None if key is None else cls(disk.root, key)

    def _read(self):
        """-> (records, whether the file is of this format, its lines)"""
        try:
            with open(self.path, "r", encoding="ascii") as f:
                lines = f.read().split("\n")     # (each record's line starts with a newline)
        except FileNotFoundError:
            return {}, True, 0
        except (OSError, ValueError):
            return {}, False, 0
        if not lines or lines[0] != FORMAT:
            return {}, False, 0
        records = {}
        for line in lines[1:]:
            if not line.endswith(END):             # (cut short: a run killed while appending)
                continue
            try:
                name, pc, keys, answers = line[:-len(END)].split(" ", 3)
                where = (name, int(pc, 16))
                rec = (tuple(k for k in keys.split(";") if k != "-"), _decode(answers))
            except (ValueError, IndexError):       # (a corrupt line: ignored)
                continue
            records.pop(where, None)               # (the last line of a region wins, and
            records[where] = rec                   # counts as the newest)
        return records, True, len(lines) - 1

    def replay(self, name, pc, live):
        """The profile for a region of backend `name` at pc: the record's answers, else live."""
        rec = self.records.get((name, pc))
        return Replay(live, rec[1] if rec is not None else None)

    def cached(self, disk, name, pc):
        """Is an object of the record at (name, pc) in the disk cache?"""
        rec = self.records.get((name, pc))
        if rec is None or not rec[0] or (name, pc) in self.negative:
            return False
        if any(disk.has(k) for k in rec[0]):
            return True
        self.negative.add((name, pc))
        return False

    def formed(self, name, pc, profile, key):
        """A region of `name` at pc was formed with `profile` (a Replay) and
        its object's key is `key`: counted, and recorded (written if new)."""
        rec = self.records.get((name, pc))
        if profile.done():
            STATS.bump("regions_replayed")
            if key is not None and key in rec[0]:
                STATS.bump("regions_replay_hits")
        elif profile.diverged:
            STATS.bump("regions_replayed")
            STATS.bump("regions_replay_diverged")
        with self.lock:
            rec = self.mine.get((name, pc)) or rec
            # (the same answers may make several texts: -stats counts instructions
            # in the code, for one; each keeps its key)
            if rec is not None and rec[1] == profile.answers and (key is None or key in rec[0]):
                return                              # (nothing new)
            keys = () if key is None else (key,)
            if rec is not None and rec[1] == profile.answers:
                keys = tuple(k for k in rec[0] if k != key)[-(MAX_KEYS - len(keys)):] + keys
            new = self.mine[(name, pc)] = (keys, profile.answers)
            self._append(_line(name, pc, new))

    def _append(self, line):
        """(under the lock) One record more at the file's end: one write of
        O_APPEND, which concurrent runs' do not split; or the file written anew."""
        if not self.rewrite:
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
            except FileNotFoundError:
                fd = None
            except OSError:
                return                             # (a read-only cache: no records kept)
            if fd is not None:
                try:
                    os.write(fd, line.encode("ascii"))
                except OSError:
                    pass
                finally:
                    os.close(fd)
                return
        self.rewrite = False
        self._write()

    def _write(self):
        """The file anew: its records (another run's meanwhile too) and this
        run's, the newest MAX_RECORDS, to a temporary file renamed over it."""
        records = self._read()[0]
        for where, rec in self.mine.items():
            records.pop(where, None)
            records[where] = rec
        text = FORMAT + "".join(_line(name, pc, rec) for (name, pc), rec in
                                       list(records.items())[-MAX_RECORDS:])
        try:
            atomicfile.replace(self.path, text)
        except OSError:
            pass                                   # (a read-only cache: no records kept)


def _line(name, pc, rec):
    keys, answers = rec
    # (the newline first: a line cut short before is ended by the next)
    return f"\n{name} {pc:x} {';'.join(keys) or '-'} {_encode(answers)}{END}"
