"""``macspoofchk`` of the reference bridge plugin (from 1.1.0): frames the
container sends whose source MAC is not its interface's are dropped as
they enter the bridge, by nftables rules on the veth's host end.

As the reference (containernetworking/plugins pkg/link/spoofcheck.go)
makes them, in one nft transaction: table ``bridge nat``, its base chain
``PREROUTING`` (filter, prerouting hook, priority -300, policy accept;
shared, never removed), a rule there sending what comes in on the host
end to chain ``cni-br-iface-<container id>-<ifname>``, which jumps to
``...-mac``, which returns the frames from the container's MAC and drops
the rest; every rule with comment ``macspoofchk-<container id>-<ifname>``.
Same names as the reference's: a host where both run shares the table.

What ADD made is recorded (sidecar.py), and DEL removes the base chain's
rules with that comment and the two chains, whatever is left of them."""
import json
import sys

from . import sidecar
from .errors import DRIFT, CniError

WHAT = "spoofchk"   # its record: <attachment>.spoofchk
FAMILY, TABLE, BASE = "bridge", "nat", "PREROUTING"


def rules(container, ifname, host_end, mac):
    """What ADD makes for the container's interface (``mac``) behind the
    bridge port ``host_end``."""
    ref = f"{container}-{ifname}"
    return {"chain": f"cni-br-iface-{ref}", "comment": f"macspoofchk-{ref}", "port": host_end, "mac": mac}


def add(name, made):
    """Make ``made`` for attachment ``name`` (recorded first); on failure
    nothing of it stays."""
    sidecar.save(name, WHAT, {"chain": made["chain"], "comment": made["comment"]})
    chain, mac = made["chain"], chain_of(made["chain"] + "-mac")
    batch = [{"add": {"table": {"family": FAMILY, "name": TABLE}}},
             {"add": {"chain": {**chain_of(BASE), "type": "filter", "hook": "prerouting", "prio": -300,
                                "policy": "accept"}}},
             {"add": {"chain": chain_of(chain)}}, {"add": {"chain": mac}},
             {"flush": {"chain": chain_of(chain)}}, {"flush": {"chain": mac}}]
    batch += [{"add": {"rule": r}} for r in _rules(made)]
    try:
        _apply(batch)
    except BaseException:
        remove(name)
        raise


def _rules(made):
    """The four rules, as nft's JSON writes them (``nft -j list``), but for their handles."""
    chain, mac = made["chain"], made["chain"] + "-mac"

    def rule(where, *expr):
        return {"family": FAMILY, "table": TABLE, "chain": where, "comment": made["comment"], "expr": list(expr)}
    return [rule(BASE, {"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": made["port"]}},
                 {"jump": {"target": chain}}),
            rule(chain, {"jump": {"target": mac}}),
            rule(mac, {"match": {"op": "==", "left": {"payload": {"protocol": "ether", "field": "saddr"}},
                                 "right": made["mac"]}}, {"return": None}),
            rule(mac, {"drop": None})]


def chain_of(name):
    return {"family": FAMILY, "table": TABLE, "name": name}


def remove(name):
    """Remove what attachment ``name``'s record names: the base chain's
    rules with its comment, and its two chains. Already gone: nothing to do."""
    rec = sidecar.load(name, WHAT)
    if rec is None:
        return
    try:
        listed = _listed()
    except sidecar.Missing as e:
        print(f"vnet: {e.msg}; nothing to remove", file=sys.stderr)
        listed = []
    chains = {c["name"] for c in _of(listed, "chain")}
    batch = [{"delete": {"rule": {"family": FAMILY, "table": TABLE, "chain": BASE, "handle": r["handle"]}}}
             for r in _of(listed, "rule") if r["chain"] == BASE and r.get("comment") == rec.get("comment")]
    for c in (rec.get("chain"), f"{rec.get('chain')}-mac"):
        if c in chains:
            batch.append({"delete": {"chain": chain_of(c)}})
    if batch:
        _apply(batch)
    sidecar.drop(name, WHAT)


def check(made):
    """Every rule of ``made`` is in the table, else drift (code 101)."""
    have = [{k: v for k, v in r.items() if k != "handle"} for r in _of(_listed(), "rule")]
    for r in _rules(made):
        if r not in have:
            raise CniError(DRIFT, f"macspoofchk: the nftables rule of chain {r['chain']} "
                                  f"({json.dumps(r['expr'])}) ADD made is gone")


def _listed():
    """The table's chains and rules (nft's JSON); none when there is no table."""
    try:
        out = sidecar.run(["nft", "-j", "list", "table", FAMILY, TABLE], "macspoofchk")
    except sidecar.Failed:
        return []   # no table: nothing of ours either
    return json.loads(out).get("nftables", [])


def _of(listed, kind):
    return [item[kind] for item in listed if kind in item]


def _apply(batch):
    sidecar.run(["nft", "-j", "-f", "-"], "macspoofchk", json.dumps({"nftables": batch}))
