"""A small record beside an attachment's, of what it made on the host
outside its topology (ipMasq's NAT rules, macspoofchk's bridge filter):
``<attachment>.<what>`` in vnet's state directory (not ``.json``: it is
not a topology's record), written before the first rule is made, so that
a DEL after a killed ADD removes what was made; removed by DEL last."""
import json
import os

from .errors import STATE, CniError


def path(name, what):
    from ..statedir import state_dir
    return os.path.join(state_dir(), f"{name}.{what}")


def save(name, what, data):
    from ..statedir import state_dir
    p = path(name, what)
    try:
        os.makedirs(state_dir(), exist_ok=True)
        with open(p + ".tmp", "w") as f:
            json.dump(data, f)
        os.replace(p + ".tmp", p)
    except OSError as e:
        raise CniError(STATE, f"{what}: cannot write {p}: {e.strerror or e}") from None


def load(name, what):
    """The record's data; None when there is none (and no half-written one either)."""
    p = path(name, what)
    try:
        with open(p) as f:
            return json.load(f)
    except FileNotFoundError:
        drop(name, what)   # a save killed before its rename: nothing was made yet
        return None
    except (OSError, ValueError) as e:
        raise CniError(STATE, f"{what}: cannot read {p}: {e}") from None


def drop(name, what):
    for p in (path(name, what), path(name, what) + ".tmp"):
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass


def run(argv, what, stdin=None):
    """Run a netfilter tool (argument list, found in PATH); its output. Not
    installed: Missing; failed: code 100 with what it said. (posix_spawn,
    as ipam.py: the subprocess module costs a CNI call more to import than
    the tool takes to run.)"""
    out, err, status = _spawn(argv, stdin or "")
    if status == 127 and out is None:
        raise Missing(100, f"{what} needs {argv[0]} (Debian: apt-get install "
                           f"{'nftables' if argv[0] == 'nft' else 'iptables'}): {err}")
    if status != 0:
        said = (err or out).strip().replace("\n", "; ")
        raise Failed(100, f"{what}: {argv[0]} failed: {said}")
    return out


def _spawn(argv, stdin):
    """(stdout, stderr, exit status) of ``argv`` given ``stdin``; (None, why, 127) when it cannot start."""
    pipes = [os.pipe() for _ in range(3)]   # stdin, stdout, stderr
    (rin, win), (rout, wout), (rerr, werr) = pipes
    try:
        pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=[
            (os.POSIX_SPAWN_DUP2, rin, 0), (os.POSIX_SPAWN_DUP2, wout, 1), (os.POSIX_SPAWN_DUP2, werr, 2)]
            + [(os.POSIX_SPAWN_CLOSE, fd) for fd in (win, rout, rerr)])
    except OSError as e:
        for fd in (rin, win, rout, wout, rerr, werr):
            os.close(fd)
        return None, e.strerror or str(e), 127
    for fd in (rin, wout, werr):
        os.close(fd)
    try:
        with os.fdopen(win, "w") as f:
            f.write(stdin)
    except BrokenPipeError:
        pass
    with os.fdopen(rout) as o, os.fdopen(rerr) as e:
        out, err = o.read(), e.read()   # the tools write little on stderr: no deadlock on a full pipe
    _, status = os.waitpid(pid, 0)
    return out, err, os.waitstatus_to_exitcode(status)


class Missing(CniError):
    """The tool is not installed where the plugin looks (its PATH)."""


class Failed(CniError):
    """The tool ran and refused."""
