"""What a topology owns. A record per topology under /run/vnet (the kernel
state it describes does not survive a reboot either; VNET_STATE_DIR
overrides), plus a tag in the kernel: every device vnet creates carries the
topology's link group, so a device of the same name made by someone else is
never mistaken for ours, and destroy can remove ours in one request."""
import contextlib
import errno
import fcntl
import json
import os
import re
import time
import zlib

from .errors import Busy, StateError
from .statedir import state_dir

# the format of a record: written into every record; a record without one is
# of the first format (the same fields); one of a later format is refused
RECORD_VERSION = 5   # 2: a route may carry its table; 3: rules, neighbours; 4: nexthops; 5: a route's source prefix
# (each written only then)
RT_TABLE_MAIN = 254


def group_of(name):
    """The link group that tags a topology's devices (stable, rarely used range)."""
    return 0x76000000 | (zlib.crc32(name.encode()) & 0xFFFFFF)


def undo_group(group):
    """The link group an undo moves the devices it made to, to delete them
    in one request (0x77...: apart from every topology's own tag)."""
    return group ^ 0x01000000


def is_tag(group):
    """Is link group ``group`` a topology's tag (``group_of``) or its undo's?"""
    return group is not None and group & 0xFF000000 in (0x76000000, undo_group(0x76000000))


def _json_text(data):
    """``data`` (a dict of values and lists) as JSON, one list item per line:
    readable, and made by the C encoder item by item (json.dump with indent
    runs the pure-Python one: a tenth of a second for a lab of 3,000 devices)."""
    def value(v):
        if isinstance(v, list) and v:
            return "[\n" + ",\n".join("  " + json.dumps(x) for x in v) + "\n ]"
        return json.dumps(v)
    return "{\n" + ",\n".join(f" {json.dumps(k)}: {value(v)}" for k, v in data.items()) + "\n}\n"


class Names(list):
    """A record's namespaces: a list (its order is the file's) whose
    membership is a set's, so that an apply or destroy of thousands of
    namespaces, asking once for each, is not quadratic."""

    def __init__(self, items=()):
        super().__init__(items)
        self._set = set(self)

    def __contains__(self, ns):
        try:
            return ns in self._set
        except TypeError:   # unhashable: no namespace's name
            return False

    def append(self, ns):
        super().append(ns)
        self._set.add(ns)

    def remove(self, ns):
        super().remove(ns)
        if not super().__contains__(ns):   # a name listed twice (a hand-edited record) stays until its last goes
            self._set.discard(ns)

    def __reduce__(self):   # copied or pickled whole: the set is made again
        return Names, (list(self),)


def _and_again(op):
    """List method ``op``, then the set made again from the list."""
    def changed(self, *args):
        out = getattr(list, op)(self, *args)
        self._set = set(self)
        return out
    changed.__name__ = op
    return changed


for _op in ("extend", "insert", "pop", "clear", "sort", "reverse", "__setitem__", "__delitem__", "__iadd__", "__imul__"):
    setattr(Names, _op, _and_again(_op))


class Record:
    def __init__(self, name, data=None):
        self.name = name
        d = data or {}
        self.source = d.get("source")
        self.namespaces = Names(d.get("namespaces", []))
        self.devices = {(x["netns"], x["name"]): x["kind"] for x in d.get("devices", [])}
        # [netns, to, via, dev, metric] and, in another table than main, its table
        self.routes = [tuple(r) + (RT_TABLE_MAIN,) * (6 - len(r)) for r in d.get("routes", [])]
        self.sysctls = {(s["netns"], s["key"]): s["old"] for s in d.get("sysctls", [])}
        # the policy routing rules vnet added (topology.rule.rule_entry)
        self.rules = [tuple(r) for r in d.get("rules", [])]
        # the static neighbours vnet made: [netns, dev, address, proxy] (topology.neighbour.neighbour_key)
        self.neighbours = [tuple(n) for n in d.get("neighbours", [])]
        # the nexthop objects vnet made: [netns, id]
        self.nexthops = [tuple(n) for n in d.get("nexthops", [])]
        self.group = d.get("group", group_of(name))
        # namespaces where a destroy or undo took the IPv6 routes of the
        # devices it was deleting (rtnl.before_deleting): stopped before it
        # deleted them, those it owns there are made again by the next apply
        self.routes_dropped = list(dict.fromkeys(d.get("routes_dropped", [])))
        # [netns, device, address]: the addresses vnet gave a device it did not make (lo of a
        # namespace it made), taken away once no longer declared, as a route is
        self.addresses = list(dict.fromkeys(tuple(x) for x in d.get("addresses", [])))
        self._saved_as = None   # what it said when last read or written (``_content``): a save of the same is skipped

    @property
    def path(self):
        return os.path.join(state_dir(), f"{self.name}.json")

    @classmethod
    def load(cls, name):
        """The record of topology ``name`` (an empty one when there is none);
        StateError when it cannot be read, is not a record, or is of a later
        format than this vnet knows."""
        path = os.path.join(state_dir(), f"{name}.json")
        try:
            with open(path, "rb") as f:
                text = f.read().decode()
        except FileNotFoundError:
            return cls(name)
        except PermissionError:
            raise   # for want of privilege: the command line says so
        except (OSError, UnicodeDecodeError) as e:
            raise StateError(f"cannot read the record of topology {name!r}, {path}: "
                             f"{getattr(e, 'strerror', None) or e}") from None
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as e:
            raise _corrupt(name, path, f"not JSON ({str(e)[:80]})") from None
        problem = _record_problem(data)
        if problem:
            raise _corrupt(name, path, problem)
        if data.get("version", 1) > RECORD_VERSION:
            raise StateError(f"the record of topology {name!r}, {path}, is of format {data['version']}, written by "
                             f"a newer vnet (this one reads format {RECORD_VERSION} and older): use that vnet")
        rec = cls(name, data)
        rec._saved_as = rec._content()
        return rec

    def _content(self):
        """Everything the record says, compared in a fraction of the time
        its text takes to make (a lab of 3,000 devices: 0.1 ms against 4)."""
        return (self.name, self.source, self.group, tuple(self.namespaces), tuple(self.devices.items()),
                tuple(self.routes), tuple(self.sysctls.items()), tuple(self.routes_dropped), tuple(self.addresses),
                tuple(self.rules), tuple(self.neighbours), tuple(self.nexthops))

    def exists(self):
        return os.path.exists(self.path)

    def empty(self):
        return not (self.namespaces or self.devices or self.routes or self.sysctls or self.rules or self.neighbours
                    or self.nexthops)

    def remember_address(self, key, a):
        """Say that vnet gave address ``a`` to device ``key``, one it did not make."""
        entry = (key[0], key[1], str(a))
        if entry not in self.addresses:
            self.addresses.append(entry)

    def forget_address(self, key, a):
        """Take address ``a`` of device ``key`` off the record; was it on it?"""
        entry = (key[0], key[1], str(a))
        if entry in self.addresses:
            self.addresses.remove(entry)
            return True
        return False

    def mark_routes_dropped(self, ns):
        """Say, on disk before it happens, that the IPv6 routes of devices
        in ``ns`` are about to be deleted ahead of the devices."""
        if ns not in self.routes_dropped:
            self.routes_dropped.append(ns)
            try:
                self.save()
            except BaseException:   # not said: not to be said by a later save either
                self.routes_dropped.remove(ns)
                raise

    def owns_device(self, dev):
        """Recorded, and carrying our tag (a same-named stranger does not),
        or the tag an undo gives the devices it deletes in one request
        (``undo_group``: a kill between the two leaves them with it)."""
        return dev.key in self.devices and dev.group in (self.group, undo_group(self.group))

    def renamed(self, state):
        """The devices of ours someone renamed or moved (within the
        namespaces ``state`` read): carrying our tag under a name not
        recorded, while a recorded device is missing, and recorded by no
        other topology (two names may share a tag: 24 bits of a hash). Left,
        one would keep the addresses of the device made again in its place."""
        tags = (self.group, undo_group(self.group))
        loose = [d for d in state.devices() if d.group in tags and d.key not in self.devices]
        if not loose or all(state.device(*key) is not None for key in self.devices if state.has_ns(key[0])):
            return []
        theirs = set()
        for name in recorded_names():
            if name != self.name and group_of(name) == self.group:   # (a record's tag is its name's)
                try:
                    other = Record.load(name)
                except Exception:   # (one unreadable may claim them: none is taken)
                    return []
                if other.group == self.group:
                    theirs |= set(other.devices)
        return [d for d in loose if d.key not in theirs]

    def save(self):
        # lo's addresses go with their namespace (made by the file: recorded, until it goes), and so
        # do the rules and neighbours of a namespace vnet made (those of its own or one it joins stay)
        self.addresses = [x for x in self.addresses if x[0] in self.namespaces]
        stays = lambda ns: ns is None or ns.startswith("/") or ns in self.namespaces   # noqa: E731
        self.rules = [x for x in self.rules if stays(x[0])]
        self.neighbours = [x for x in self.neighbours if stays(x[0])]
        self.nexthops = [x for x in self.nexthops if stays(x[0])]
        if self.empty():
            self.remove()
            return
        content = self._content()
        if content == self._saved_as and os.path.exists(self.path):
            return   # a change that left the record as it was (an option changed in place)
        routes = [list(r[:5]) if len(r) == 5 or r[5] == RT_TABLE_MAIN else list(r) for r in self.routes]
        # format 2 only where a route has a table: an older vnet reads the rest
        version = 5 if any(" from " in r[1] for r in self.routes) else 4 if self.nexthops else \
            3 if self.rules or self.neighbours else \
            2 if any(len(r) > 5 for r in routes) else 1
        data = {"version": version, "name": self.name,
                "source": self.source, "group": self.group, "namespaces": self.namespaces,
                "devices": [{"netns": ns, "name": n, "kind": k} for (ns, n), k in self.devices.items()],
                "routes": routes,
                "sysctls": [{"netns": ns, "key": k, "old": v} for (ns, k), v in self.sysctls.items()]}
        if self.rules:
            data["rules"] = [list(r) for r in self.rules]
        if self.neighbours:
            data["neighbours"] = [list(n) for n in self.neighbours]
        if self.nexthops:
            data["nexthops"] = [list(n) for n in self.nexthops]
        if self.routes_dropped:
            data["routes_dropped"] = self.routes_dropped
        if self.addresses:
            data["addresses"] = [list(x) for x in self.addresses]
        text = _json_text(data)
        tmp = self.path + ".tmp"
        try:
            os.makedirs(state_dir(), exist_ok=True)
            with open(tmp, "w") as f:
                f.write(text)
            os.replace(tmp, self.path)
        except PermissionError:
            raise   # for want of privilege: the command line says so
        except OSError as e:
            raise StateError(f"cannot write the record of topology {self.name!r}, {self.path}: "
                             f"{e.strerror or e}") from None
        self._saved_as = content

    def remove(self):
        for p in (self.path, self.path + ".tmp"):   # a save stopped before its rename leaves the .tmp
            with contextlib.suppress(FileNotFoundError):
                os.unlink(p)


def _corrupt(name, path, problem):
    return StateError(f"the record of topology {name!r}, {path}, is corrupt: {problem}; vnet cannot tell what "
                      f"the topology owns (remove the file, and what it made by hand)")


# the spec's NSNAME_RE and IFNAME_RE (vnet.topology.fields; a unit test keeps them equal): a record's names
# become paths under /run/netns and /proc/sys, so a corrupt one must not name '..' or '/'
_NSNAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}")
_JOINED = re.compile(r"/[!-~]{1,4094}")   # JOINED_RE: a namespace joined by its path holds devices, never owned
_IFNAME = re.compile(r"[^/:\s\x00]{1,15}")
_SYSCTL = re.compile(r"net(\.[^./\s\x00]+)+")


def _metric(v):
    return v is None or isinstance(v, int) and not isinstance(v, bool)


def _table(rest):
    return not rest or isinstance(rest[0], int) and not isinstance(rest[0], bool) and 0 < rest[0] < 1 << 32


def _address(v):
    from .topology.address import parse
    try:
        return isinstance(v, str) and parse(v) is not None
    except ValueError:
        return False


def _ip(v):
    import ipaddress
    try:
        return isinstance(v, str) and str(ipaddress.ip_address(v)) == v   # as vnet writes it: no scope
    except ValueError:
        return False


def _network(v):
    import ipaddress
    try:
        return isinstance(v, str) and str(ipaddress.ip_network(v)) == v
    except ValueError:
        return False


def _rule_entry(x):
    """Is ``x`` a record's rule (topology.rule.rule_entry)?"""
    def num(v, hi=2**32 - 1):
        return v is None or isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= hi
    if not (isinstance(x, list) and len(x) == 14):
        return False
    nsname, family, src, dst, iif, oif, mark, mask, tos, invert, suppress, action, table, prio = x
    return ((nsname is None or isinstance(nsname, str) and (_NSNAME.fullmatch(nsname) or _JOINED.fullmatch(nsname)))
            and family in (4, 6) and all(_network(v) for v in (src, dst) if v is not None)
            and all(v is None or isinstance(v, str) and _IFNAME.fullmatch(v) for v in (iif, oif))
            and all(num(v) for v in (mark, mask, suppress, table, prio)) and num(tos, 255) and tos is not None
            and isinstance(invert, bool) and action in ("unicast", "blackhole", "unreachable", "prohibit", "nop"))


def _record_problem(d):
    """What is wrong with the decoded record ``d`` (None: nothing)."""
    def strs(v, none=False):
        return isinstance(v, str) or none and v is None

    def name(pattern, none=False):
        return lambda v: none and v is None or isinstance(v, str) and pattern.fullmatch(v) is not None

    ns = lambda v: name(_NSNAME, none=True)(v) or name(_JOINED)(v)   # noqa: E731
    dev = name(_IFNAME, none=True)

    def each(key, ok, what):
        v = d.get(key, [])
        if not isinstance(v, list):
            return f"{key!r} is not a list"
        bad = next((i for i, x in enumerate(v) if not ok(x)), None)
        return None if bad is None else f"{key}[{bad}] is not {what}"

    if not isinstance(d, dict):
        return "not a JSON object"
    version = d.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        return f"'version' is {version!r}, not a format number"
    if version > RECORD_VERSION:
        return None   # a later format: refused by the caller, with its own message
    if not strs(d.get("source"), none=True):
        return "'source' is not a path"
    group = d.get("group", 0)
    if not isinstance(group, int) or isinstance(group, bool) or not 0 <= group < 1 << 32:
        return "'group' is not a link group number"
    return (each("namespaces", name(_NSNAME), "a namespace name")
            or each("devices", lambda x: isinstance(x, dict) and ns(x.get("netns")) and name(_IFNAME)(x.get("name"))
                    and strs(x.get("kind")), "a device {netns, name, kind}")
            or each("routes", lambda x: isinstance(x, list) and len(x) in (5, 6) and ns(x[0]) and strs(x[1])
                    and strs(x[2], True) and dev(x[3]) and _metric(x[4]) and _table(x[5:]),
                    "a route [netns, to, via, dev, metric(, table)]")
            or each("sysctls", lambda x: isinstance(x, dict) and ns(x.get("netns")) and name(_SYSCTL)(x.get("key"))
                    and isinstance(x.get("old"), (str, int, type(None))), "a sysctl {netns, key, old}")
            or each("rules", _rule_entry, "a rule [netns, family, from, to, iif, oif, fwmark, fwmask, tos, not, "
                    "suppress_prefixlength, type, table, priority]")
            or each("neighbours", lambda x: isinstance(x, list) and len(x) == 4 and ns(x[0]) and name(_IFNAME)(x[1])
                    and _ip(x[2]) and isinstance(x[3], bool), "a neighbour [netns, dev, address, proxy]")
            or each("nexthops", lambda x: isinstance(x, list) and len(x) == 2 and ns(x[0]) and _table(x[1:]),
                    "a nexthop [netns, id]")
            or each("routes_dropped", ns, "a namespace name")
            or each("addresses", lambda x: isinstance(x, list) and len(x) == 3 and ns(x[0]) and name(_IFNAME)(x[1])
                    and _address(x[2]), "an address [netns, device, address/prefix]"))


def recorded_names():
    try:
        return sorted(f[:-5] for f in os.listdir(state_dir()) if f.endswith(".json"))
    except FileNotFoundError:
        return []


@contextlib.contextmanager
def lock(name, timeout=60.0):
    """Hold the topology's lock; wait at most ``timeout`` seconds (0: do not
    wait), then raise Busy. The lock is a file a destroy removes (a host
    that has run a million containers keeps no million lock files): one
    taken on a file that was removed meanwhile is taken again."""
    path = os.path.join(state_dir(), f"{name}.lock")
    deadline = time.monotonic() + timeout
    while True:
        fd = _lock_file(name, path)
        try:
            _flock(fd, name, timeout, deadline)
            if _same_file(fd, path):
                break
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)   # removed by a destroy while we waited: the lock is the new file's
    try:
        yield
    finally:
        os.close(fd)


def _lock_file(name, path):
    try:
        os.makedirs(state_dir(), exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except PermissionError:
        raise   # for want of privilege: the command line says so
    except OSError as e:
        raise StateError(f"cannot take the lock of topology {name!r}, {path}: {e.strerror or e}") from None


def _flock(fd, name, timeout, deadline):
    wait = 0.002   # doubled up to 50 ms: a short apply's lock is passed on at once
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
            if time.monotonic() >= deadline:
                raise Busy(f"topology {name!r} is locked by another vnet command "
                           f"(waited {timeout:g} s; see --lock-timeout)") from None
            time.sleep(wait)
            wait = min(wait * 2, 0.05)


def _same_file(fd, path):
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    own = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)


def drop_lock(name):
    """Remove topology ``name``'s lock file: by its holder, once the
    topology is destroyed (whoever waits on it takes the next one)."""
    try:
        os.unlink(os.path.join(state_dir(), f"{name}.lock"))
    except FileNotFoundError:
        pass


def drop_unused_lock(name):
    """Remove topology ``name``'s lock file when the topology has no record
    (an apply that failed and was undone, a destroy of what was never
    made): as a destroy does, by the lock's holder, so that whoever waits
    on it takes the next one. A lock another command holds is left to it."""
    if not os.path.exists(os.path.join(state_dir(), f"{name}.lock")):
        return
    try:
        with lock(name, 0):
            if not Record(name).exists():
                drop_lock(name)
    except Busy:
        pass
