"""The IPAM plugin a configuration names (``ipam.type``: host-local,
static, dhcp...), run as the spec says a plugin delegates: found in
CNI_PATH, given the same environment with its command and the whole
network configuration on stdin; its result (or error object) read from
its stdout. Its stderr is passed through as the runtime's log."""
import json
import os

from .errors import INVALID_CONFIG, IPAM_FAILED, CniError


def plugin_type(conf):
    ipam = conf.get("ipam")
    if ipam is None or ipam == {}:
        return None
    t = ipam.get("type") if isinstance(ipam, dict) else None
    if not isinstance(t, str) or not t:
        raise CniError(INVALID_CONFIG, "network configuration: ipam.type: expected the name of an IPAM plugin "
                                       "(host-local, static, dhcp...)")
    return t


def find(name, cni_path):
    """The executable ``name`` in CNI_PATH (':'-separated directories)."""
    if "/" in name or name in (".", ".."):
        raise CniError(INVALID_CONFIG, f"network configuration: ipam.type: {name!r} is not a plugin name")
    for d in cni_path.split(":"):
        p = os.path.join(d, name)
        if d and os.access(p, os.X_OK) and os.path.isfile(p):
            return p
    raise CniError(IPAM_FAILED, f"IPAM plugin {name!r}: not found in CNI_PATH={cni_path}")


def run(command, conf_bytes, conf, env):
    """Run the IPAM plugin for ``command`` (ADD, DEL, CHECK, GC, STATUS); its result (ADD)
    as a dict, else None. A failure is a CniError with the plugin's own
    message and code."""
    call = start(command, conf_bytes, conf, env)
    return call.result() if call else None


def start(command, conf_bytes, conf, env):
    """The IPAM plugin started for ``command`` (None when the configuration
    names none): its ``result()`` waits for it. Meanwhile the caller may do
    its own work (DEL removes the devices while IPAM releases the address)."""
    name = plugin_type(conf)
    if name is None:
        return None
    return _Call(name, find(name, env.get("CNI_PATH", "")), command, conf_bytes, conf, {**env, "CNI_COMMAND": command})


class _Call:
    def __init__(self, name, path, command, conf_bytes, conf, env):
        self.name, self.path, self.command, self.conf_bytes, self.conf, self.env = \
            name, path, command, conf_bytes, conf, env
        self.running = _spawn(path, env, conf_bytes)

    def result(self):
        out, status = _collect(*self.running)
        if status != 0 and self.command in ("ADD", "DEL", "CHECK") and _older(out) \
                and self.conf.get("cniVersion") not in OLDER_TRIES:
            # an IPAM plugin of an older CNI (Debian's host-local speaks up to
            # 1.0.0): asked again in the latest version it may speak
            older = json.loads(self.conf_bytes)
            older["cniVersion"] = OLDER_TRIES[0]
            out, status = _collect(*_spawn(self.path, self.env, json.dumps(older).encode()))
        if status != 0:
            raise _failure(self.name, self.command, out, status)
        if self.command != "ADD":
            return None
        try:
            result = json.loads(out)
        except ValueError:
            raise CniError(IPAM_FAILED, f"IPAM plugin {self.name!r} ADD: its result is not JSON: "
                                        f"{out[:200]!r}") from None
        if not isinstance(result, dict):
            raise CniError(IPAM_FAILED, f"IPAM plugin {self.name!r} ADD: its result is not a JSON object")
        return result


OLDER_TRIES = ("1.0.0", "0.4.0", "0.3.1", "0.3.0")


def _older(out):
    """Is ``out`` the error object of a plugin that does not speak the version asked (code 1)?"""
    try:
        return json.loads(out).get("code") == 1
    except (ValueError, AttributeError):
        return False


def _failure(name, command, out, status):
    """The CniError of a failed call: the plugin's own message, and its
    error object as ``plugin_error`` ({} when it printed none)."""
    try:
        err = json.loads(out)
        msg = f"IPAM plugin {name!r} {command}: {err.get('msg')}" + (
            f": {err['details']}" if err.get("details") else "")
        e = CniError(IPAM_FAILED, msg, f"its code {err.get('code')}")
        e.plugin_error = err
    except (ValueError, AttributeError):
        e = CniError(IPAM_FAILED, f"IPAM plugin {name!r} {command} exited {status}: {out[:200]!r}")
        e.plugin_error = {}
    return e


def forward(command, conf_bytes, conf, env):
    """GC or STATUS passed on to the IPAM plugin (the spec: a plugin that
    delegates forwards them), with the same stdin; nothing when the
    configuration names none. A plugin of an earlier CNI that does not know
    the command has nothing to collect or report: not an error (vnet's
    per-attachment DELs release what vnet knows of)."""
    try:
        run(command, conf_bytes, conf, env)
    except CniError as e:
        if not _unknown_command(getattr(e, "plugin_error", None), env):
            raise


def _unknown_command(err, env):
    """Is ``err`` (an IPAM plugin's error object) how a plugin of an earlier
    CNI refuses GC or STATUS? Code 1 (not the version it speaks), code 4
    "unknown CNI_COMMAND" (Debian's host-local, CNI up to 1.0.0), or code 3
    "missing containerID" for a call with none (a skel of before GC wants
    one for every command; one that knows GC does not)."""
    if not isinstance(err, dict):
        return False
    code, msg = err.get("code"), str(err.get("msg") or "")
    return code == 1 or (code == 4 and "unknown CNI_COMMAND" in msg) or (
        code == 3 and "missing containerID" in msg and not env.get("CNI_CONTAINERID"))


def _spawn(path, env, stdin):
    """``path`` started with ``env`` and ``stdin`` written to it: (its pid,
    the read end of its stdout). Its stderr is ours (the runtime's log)."""
    rin, win = os.pipe()
    rout, wout = os.pipe()
    try:
        pid = os.posix_spawn(path, [path], env, file_actions=[
            (os.POSIX_SPAWN_DUP2, rin, 0), (os.POSIX_SPAWN_DUP2, wout, 1),
            (os.POSIX_SPAWN_CLOSE, win), (os.POSIX_SPAWN_CLOSE, rout)])
    finally:
        os.close(rin)
        os.close(wout)
    try:
        with os.fdopen(win, "wb") as f:
            f.write(stdin)
    except BrokenPipeError:
        pass   # it did not read its configuration: its exit says why
    return pid, rout


def _collect(pid, rout):
    """(stdout, exit status) of the process ``_spawn`` started."""
    chunks = []
    with os.fdopen(rout, "rb") as f:
        while True:
            b = f.read(65536)
            if not b:
                break
            chunks.append(b)
    _, status = os.waitpid(pid, 0)
    return b"".join(chunks).decode(errors="replace"), os.waitstatus_to_exitcode(status)


def family(ip):
    """4 or 6: the family of an address's text."""
    return 6 if ":" in ip else 4
