"""Validated topologies kept between runs, as Python keeps compiled modules.

Reading and validating a lab of a thousand namespaces takes longer than
observing it: a no-op `vnet plan` of such a file spent most of its time
there. A topology is a pure function of the file's bytes, its path (the
messages name it) and vnet's own code, so the validated result is stored
under a digest of those three and used again while none of them changes.
Only big files are kept (small ones validate in milliseconds), only
successful loads (an error is always found afresh), and only a few
entries; the directory is root's, under vnet's state directory, made
mode 0700 (a cached entry is a pickle). Beside it (``Memo``), the
interfaces of each path's last version: an edit validates again only the
interfaces it touched."""
import copyreg
import ipaddress
import os
import pickle

try:   # Python's own SHA-256: hashlib would load OpenSSL first, 2 ms of a command's start
    from _sha2 import sha256        # 3.12 and later
except ImportError:
    try:
        from _sha256 import sha256  # 3.11
    except ImportError:
        from hashlib import sha256

from ..statedir import state_dir

MIN_SIZE = 32 << 10   # below this a file validates in a few milliseconds
KEEP = 8              # newest entries kept
MOST_PARTS = 10000    # lists and mappings in one interface the memo prints
_CODE = None


def _interface(cls, packed, prefixlen):
    return cls((packed, prefixlen))


def _reduce_interface(a):
    """An address with its prefix as bytes and a number: ipaddress pickles it
    as text, which is parsed again (half the time of reading a cached lab)."""
    return _interface, (type(a), a.packed, a.network.prefixlen)


for _cls in (ipaddress.IPv4Interface, ipaddress.IPv6Interface):
    copyreg.pickle(_cls, _reduce_interface)


def _code():
    """A fingerprint of vnet's code: every module's name, size and mtime."""
    global _CODE
    if _CODE is None:
        h = sha256()
        top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        for d, dirs, files in os.walk(top):
            dirs[:] = sorted(x for x in dirs if x != "__pycache__")
            for fn in sorted(files):
                if fn.endswith(".py"):
                    st = os.stat(os.path.join(d, fn))
                    h.update(f"{d}/{fn}:{st.st_size}:{st.st_mtime_ns}\n".encode())
        _CODE = h.hexdigest()
    return _CODE


def _dir():
    return os.path.join(state_dir(), "cache")


def _path(data, source):
    h = sha256(data)
    h.update(b"\0" + os.fsencode(source) + b"\0" + _code().encode())
    return os.path.join(_dir(), h.hexdigest() + ".pickle")


def get(data, source):
    """The topology validated earlier from these bytes at this path, or None."""
    if len(data) < MIN_SIZE:
        return None
    try:
        with open(_path(data, source), "rb") as f:
            return pickle.load(f)
    except Exception:   # absent, unreadable, or from another Python: validate afresh
        return None


def put(data, source, topo):
    if len(data) < MIN_SIZE:
        return
    try:
        _write(_path(data, source), topo)
    except OSError:
        pass   # a cache that cannot be written costs time, never correctness


def _write(path, obj):
    """Pickle ``obj`` to ``path`` (its directory root's alone), keeping the
    KEEP newest entries there."""
    d = os.path.dirname(path)
    os.makedirs(d, mode=0o700, exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)
    entries = sorted((e for e in os.scandir(d) if e.name.endswith(".pickle")), key=lambda e: e.stat().st_mtime_ns)
    for e in entries[:-KEEP]:
        os.unlink(e.path)


class Memo:
    """The interfaces of a path's last big version, each validated without
    a problem, by (its place, its mapping's text): an edit of one interface
    in a lab of a thousand validates one again, not a thousand (about half
    of re-reading the file). Kept beside the cache, one per path and vnet's
    code; what one load validates replaces it."""

    def __init__(self, source, size):
        self.path = None
        self.old, self.new = {}, {}
        self.split = self.split_new = None   # an edits.Split of the last version's text, and of this one's
        self.outside = False   # validation read a file or variable (Problems.read_outside): keep no topology
        if size < MIN_SIZE:
            return
        h = sha256(b"memo\0" + os.fsencode(source) + b"\0" + _code().encode())
        self.path = os.path.join(state_dir(), "memo", h.hexdigest() + ".pickle")
        try:
            with open(self.path, "rb") as f:
                self.old, self.split = pickle.load(f)
        except Exception:   # none yet, unreadable, or from another Python
            self.old, self.split = {}, None

    @staticmethod
    def _key(label, raw):
        """(label, the mapping's text): YAML's and JSON's values (str, int,
        float, bool, None, lists, mappings) print exactly. None for one
        that shares a list or mapping (YAML aliases: printed, a few lines
        of them can take gigabytes) or holds more than MOST_PARTS."""
        seen, todo = set(), [raw]
        while todo:
            x = todo.pop()
            if isinstance(x, (dict, list)):
                if id(x) in seen or len(seen) >= MOST_PARTS:
                    return None
                seen.add(id(x))
                todo.extend(x.values() if isinstance(x, dict) else x)
        return label, repr(raw)

    def get(self, label, raw):
        if not self.old or not isinstance(raw, dict):
            return None
        key = self._key(label, raw)
        iface = self.old.get(key) if key is not None else None
        if iface is not None:
            self.new[key] = iface
        return iface

    def add(self, label, raw, iface):
        key = self._key(label, raw) if self.path is not None else None
        if key is not None:
            self.new[key] = iface

    def save(self):
        if self.path is None or not self.new or (self._close_enough() and not self._cut_anew()):
            return
        try:
            _write(self.path, (self.new, self.split_new or self.split))
        except OSError:
            pass   # as the cache: time, never correctness

    def _cut_anew(self):
        """This version was parsed whole and cuts otherwise than the last
        (its text before or after the interfaces changed): kept, or every
        later edit would be parsed whole too."""
        a, b = self.split, self.split_new
        return b is not None and (a is None or (a.head, a.tail, a.prefix) != (b.head, b.tail, b.prefix))

    def _close_enough(self):
        """The memo read serves this version about as well: a few of its
        interfaces new (an edit), not many gone. Not written again then
        (5 ms of a lab of a thousand's edit); the next load validates those
        few again."""
        fresh = sum(1 for key in self.new if key not in self.old)
        return bool(self.old) and fresh <= max(16, len(self.new) // 20) and len(self.old) <= 2 * len(self.new)
