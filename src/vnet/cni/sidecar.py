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
    """The record's data; None when there is none."""
    p = path(name, what)
    try:
        with open(p) as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise CniError(STATE, f"{what}: cannot read {p}: {e}") from None


def drop(name, what):
    try:
        os.unlink(path(name, what))
    except FileNotFoundError:
        pass


def run(argv, what, stdin=None):
    """Run a netfilter tool (argument list); its output. Not installed:
    Missing; failed: code 100 with what it said."""
    import subprocess
    try:
        p = subprocess.run(argv, input=stdin, capture_output=True, text=True)
    except OSError as e:
        raise Missing(100, f"{what} needs {argv[0]} (Debian: apt-get install "
                           f"{'nftables' if argv[0] == 'nft' else 'iptables'}): {e.strerror or e}") from None
    if p.returncode != 0:
        said = (p.stderr or p.stdout).strip().replace("\n", "; ")
        raise Failed(100, f"{what}: {argv[0]} failed: {said}")
    return p.stdout


class Missing(CniError):
    """The tool is not installed where the plugin looks (its PATH)."""


class Failed(CniError):
    """The tool ran and refused."""
