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
import time
import zlib

from .errors import Busy


def state_dir():
    return os.environ.get("VNET_STATE_DIR", "/run/vnet")


def group_of(name):
    """The link group that tags a topology's devices (stable, rarely used range)."""
    return 0x76000000 | (zlib.crc32(name.encode()) & 0xFFFFFF)


def _json_text(data):
    """``data`` (a dict of values and lists) as JSON, one list item per line:
    readable, and made by the C encoder item by item (json.dump with indent
    runs the pure-Python one: a tenth of a second for a lab of 3,000 devices)."""
    def value(v):
        if isinstance(v, list) and v:
            return "[\n" + ",\n".join("  " + json.dumps(x) for x in v) + "\n ]"
        return json.dumps(v)
    return "{\n" + ",\n".join(f" {json.dumps(k)}: {value(v)}" for k, v in data.items()) + "\n}\n"


class Record:
    def __init__(self, name, data=None):
        self.name = name
        d = data or {}
        self.source = d.get("source")
        self.namespaces = list(d.get("namespaces", []))
        self.devices = {(x["netns"], x["name"]): x["kind"] for x in d.get("devices", [])}
        self.routes = [tuple(r) for r in d.get("routes", [])]
        self.sysctls = {(s["netns"], s["key"]): s["old"] for s in d.get("sysctls", [])}
        self.group = d.get("group", group_of(name))
        self._saved = None   # the text last read or written: a save that would write it again is skipped

    @property
    def path(self):
        return os.path.join(state_dir(), f"{self.name}.json")

    @classmethod
    def load(cls, name):
        try:
            with open(os.path.join(state_dir(), f"{name}.json")) as f:
                text = f.read()
        except FileNotFoundError:
            return cls(name)
        rec = cls(name, json.loads(text))
        rec._saved = text
        return rec

    def exists(self):
        return os.path.exists(self.path)

    def empty(self):
        return not (self.namespaces or self.devices or self.routes or self.sysctls)

    def owns_device(self, dev):
        """Recorded, and carrying our tag (a same-named stranger does not)."""
        return dev.key in self.devices and dev.group == self.group

    def save(self):
        if self.empty():
            self.remove()
            return
        os.makedirs(state_dir(), exist_ok=True)
        data = {"name": self.name, "source": self.source, "group": self.group,
                "namespaces": self.namespaces,
                "devices": [{"netns": ns, "name": n, "kind": k} for (ns, n), k in self.devices.items()],
                "routes": [list(r) for r in self.routes],
                "sysctls": [{"netns": ns, "key": k, "old": v} for (ns, k), v in self.sysctls.items()]}
        text = _json_text(data)
        if text == self._saved and os.path.exists(self.path):
            return   # a change that left the record as it was (an option changed in place)
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.path)
        self._saved = text

    def remove(self):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


def recorded_names():
    try:
        return sorted(f[:-5] for f in os.listdir(state_dir()) if f.endswith(".json"))
    except FileNotFoundError:
        return []


@contextlib.contextmanager
def lock(name, timeout=60.0):
    """Hold the topology's lock; wait at most ``timeout`` seconds (0: do not
    wait), then raise Busy."""
    os.makedirs(state_dir(), exist_ok=True)
    fd = os.open(os.path.join(state_dir(), f"{name}.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as e:
                if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise
                if time.monotonic() >= deadline:
                    raise Busy(f"topology {name!r} is locked by another vnet command "
                               f"(waited {timeout:g} s; see --lock-timeout)") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)
