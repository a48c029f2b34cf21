"""Every broken file of the golden corpus (tests/golden/errors/), given to
`vnet apply` on a machine that already holds a network: exit 2, the golden
message, and the kernel state of every namespace (links, addresses, routes),
the namespaces themselves and vnet's records exactly as they were."""
import hashlib
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden" / "errors"
CASES = sorted(p for p in GOLDEN.iterdir() if p.suffix in (".yaml", ".json"))
EXAMPLE = ROOT / "examples" / "fig10-bridge.yaml"


def records():
    """vnet's state directory: every file with a digest of its content."""
    out = {}
    for d, _, files in os.walk("/run/vnet"):
        for f in files:
            p = os.path.join(d, f)
            with open(p, "rb") as fh:
                out[p] = hashlib.sha256(fh.read()).hexdigest()
    return out


def world(sandbox):
    """A network that is there before the broken file comes: an applied
    topology (with its records), a stand-in uplink with an address and a
    default route, and namespaces with the names the broken files use."""
    sandbox.vnet("apply", EXAMPLE)
    sandbox.sh("ip link add eth0 type veth peer name eth0-up && ip link set eth0 up && ip link set eth0-up up"
               " && ip addr add 192.0.2.10/24 dev eth0 && ip route add default via 192.0.2.1")
    for ns in ("net1", "net2", "ns1"):
        if not os.path.exists(f"/run/netns/{ns}"):
            sandbox.sh(f"ip netns add {ns} && ip -n {ns} link set lo up"
                       f" && ip -n {ns} link add eth1 type veth peer name eth2 && ip -n {ns} addr add 10.9.0.1/24 dev eth1")
    return sandbox.settled_dump(), sorted(os.listdir("/run/netns")), records()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_broken_file_changes_nothing(sandbox, case):
    before = world(sandbox)
    r = sandbox.vnet("apply", case, check=False)
    assert (r.returncode, r.stdout) == (2, ""), r.stderr
    assert "Traceback" not in r.stderr
    from vnet.kinds import REGISTRY   # the goldens write the registry's list of kinds as {kinds}
    said = r.stderr.replace(str(case), "{file}").replace("kinds: " + ", ".join(k.name for k in REGISTRY),
                                                          "kinds: {kinds}")
    assert said == case.with_suffix(".txt").read_text()
    after = sandbox.dump_all(), sorted(os.listdir("/run/netns")), records()
    assert after == before
