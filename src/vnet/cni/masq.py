"""``ipMasq`` of the reference bridge plugin: the container's traffic
leaving its subnet goes out with the host's address (source NAT,
MASQUERADE), by iptables rules in the host's ``nat`` table.

As the reference (containernetworking/plugins pkg/ip/ipmasq_linux.go) makes
them, for each address IPAM gave the container: a chain ``CNI-`` + hex
digits, accepting what goes to the address's subnet and masquerading the
rest but multicast (224.0.0.0/4, ff00::/8), and a rule in POSTROUTING
sending the address's traffic there; comment ``name: "NET" id: "CONTAINER"``.
Made with iptables (ip6tables), as the reference does: on Debian 12 that
is iptables-nft, so both plugins' rules live in the same tables, and
``iptables -t nat -S`` lists them alike.

Two differences, meant: the chain is named for the attachment (network,
container id *and* interface; the reference's is the network's and the
container's, shared by two interfaces of one network in one container,
and DEL of one takes the other's chain); and what ADD made is recorded
(``<attachment>.masq`` in vnet's state directory, before any rule is made),
so that DEL removes exactly that, without reading the configuration or the
container's addresses (the reference reads them from the container's
interface: when the namespace is gone first, its rules stay forever). A
rule already gone is no error for DEL. One iptables-restore per family
makes a family's rules in one transaction, and removes them in another."""
import json
import sys

from . import sidecar
from .errors import DRIFT, INVALID_CONFIG, STATE, CniError

MULTICAST = {4: "224.0.0.0/4", 6: "ff00::/8"}
TOOL = {4: "iptables", 6: "ip6tables"}
POSTROUTING = "POSTROUTING"
WHAT = "masq"   # its record: <attachment>.masq


def chain_name(net, container, ifname):
    """``CNI-`` and 24 hex digits of sha512 (the reference's 28 characters),
    of the attachment."""
    from .config import _digest
    return ("CNI-" + _digest(f"{net}\0{container}\0{ifname}", "sha512"))[:28]


def rules(net, container, ifname, ips):
    """What ADD makes for the addresses ``ips`` (``10.88.0.2/24``...): the
    chain and, per family, its rules as iptables arguments (``[chain,
    match..., -j target, comment]``), the reference's order, none twice."""
    chain = chain_name(net, container, ifname)
    comment = ["-m", "comment", "--comment", f"name: {_quoted(net)} id: {_quoted(container)}"]
    by_family = {}
    for ip in ips:
        addr = ip["address"]
        fam = 6 if ":" in addr else 4
        out = by_family.setdefault(fam, [])
        for r in ([chain, "-d", addr, "-j", "ACCEPT"], [chain, "!", "-d", MULTICAST[fam], "-j", "MASQUERADE"],
                  [POSTROUTING, "-s", addr.split("/")[0], "-j", chain]):
            if r + comment not in out:
                out.append(r + comment)
    # the chain's rules, then the jumps to it: a rule is never a jump to a chain not yet complete
    return {"chain": chain, "families": {str(f): sorted(rs, key=lambda r: r[0] == POSTROUTING)
                                         for f, rs in by_family.items()}}


def _quoted(s):
    """As Go's %q writes a string (the reference's comment): JSON's quoting, for what a CNI name holds."""
    return json.dumps(s, ensure_ascii=False)


def add(name, made):
    """Make ``made`` (from rules()) for attachment ``name``; recorded first,
    so that a DEL after a kill removes what was made. On failure, what was
    made is removed and the error says what iptables said."""
    if not made["families"]:
        return
    sidecar.save(name, WHAT, made)
    try:
        for fam, rs in made["families"].items():
            _restore(int(fam), [f":{made['chain']} - [0:0]"] + [_line("-A", r) for r in rs])
    except BaseException:
        remove(name)
        raise


def remove(name):
    """Remove what attachment ``name``'s ipMasq record names: every rule
    jumping to its chain, and the chain. Nothing recorded, or the rules
    already gone: nothing to do."""
    rec = sidecar.load(name, WHAT)
    if rec is None:
        return
    try:
        chain, families = rec["chain"], {int(f): rs for f, rs in rec["families"].items()}
    except (KeyError, TypeError, ValueError, AttributeError):
        raise CniError(STATE, f"ipMasq: {sidecar.path(name, WHAT)} is not a record of vnet's") from None
    for fam, rs in families.items():
        try:
            # what ADD made, in one transaction; when some of it is gone, what is left of it
            exact = [_line("-D", r) for r in rs if r[0] == POSTROUTING] + [f"-F {chain}", f"-X {chain}"]
            _restore(fam, exact)
        except sidecar.Failed:
            _remove_left(fam, chain)
        except sidecar.Missing as e:
            # no tool, so none of its rules to remove (it made them, or ADD failed without it)
            print(f"vnet: {e.msg}; nothing to remove", file=sys.stderr)
    sidecar.drop(name, WHAT)


def _remove_left(fam, chain):
    """Every POSTROUTING rule jumping to ``chain``, and the chain, if there."""
    listed = sidecar.run([TOOL[fam], "-w", "-t", "nat", "-S"], "ipMasq").splitlines()
    lines = [f"-D{ln[2:]}" for ln in listed if ln.startswith(f"-A {POSTROUTING} ") and ln.endswith(f" -j {chain}")]
    if f"-N {chain}" in listed:
        lines += [f"-F {chain}", f"-X {chain}"]
    if lines:
        _restore(fam, lines)


def _line(op, rule):
    return f"{op} " + " ".join(_restore_word(w) for w in rule)


def check(made):
    """Every rule of ``made`` is in the nat table, else drift (code 101)."""
    for fam, rs in made["families"].items():
        for r in rs:
            tool = TOOL[int(fam)]
            try:
                sidecar.run([tool, "-w", "-t", "nat", "-C", *r], "ipMasq")
            except sidecar.Failed:
                raise CniError(DRIFT, f"ipMasq: the {tool} rule '-t nat -A {' '.join(r)}' ADD made is gone") from None


def _restore_word(w):
    """One word of an iptables-restore line: quoted when it has to be (the comment)."""
    if w and not any(c in w for c in ' "\\\'\t'):
        return w
    if any(c in w for c in "\n\r"):
        raise CniError(INVALID_CONFIG, f"ipMasq: {w!r}: the network name and container id cannot hold a line break")
    return '"' + w.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _restore(fam, lines):
    sidecar.run([TOOL[fam] + "-restore", "-w", "--noflush"], "ipMasq", "*nat\n" + "\n".join(lines) + "\nCOMMIT\n")
