"""`vnet export` of a network built by hand names each setting of a device
that a device made from the file it writes would not have: kind options a
topology has no field for (`ip link add ... type bridge mcast_igmp_version
3`), a value a field rounds (a bridge's forward_delay in centiseconds, the
file's in seconds), a port's (`bridge link set ... mcast_to_unicast on`) and
the link's own (`numtxqueues`, `gso_max_size`, `addrgenmode`, `group`). Each
line is checked against the kernel: the export, applied in a fresh sandbox,
gives the value the line says a device made from the file has. A network
whose every setting a file says gets no such line (tests/corpus, through
test_corpus.py), and the comparison leaves nothing behind."""
import json

import pytest

from conftest import sandboxed

LAB = """set -e
ip netns add h
ip -n h link add br0 type bridge mcast_igmp_version 3 nf_call_iptables 1 forward_delay 150
ip -n h link add name va numtxqueues 4 type veth peer name vb
ip -n h link set dev va master br0
ip netns exec h bridge link set dev va mcast_to_unicast on
ip -n h link add m0 link vb type macvlan mode bridge
ip -n h link set dev vb addrgenmode none gso_max_size 30000
ip -n h link set dev m0 group 7
ip -n h link add plain type bridge
ip -n h link add name ua type veth peer name ub
ip -n h link set dev ua master plain
for d in br0 plain va vb ua ub m0; do ip -n h link set $d up; done
"""

# what each line names, and the value a device made from the file has
WANT = {
    "left out the mcast_igmp_version 3 of bridge h/br0 (made from the file: 2)",
    "left out the nf_call_iptables 1 of bridge h/br0 (made from the file: 0)",
    "left out the forward_delay 150 of bridge h/br0 (made from the file: 200)",
    "left out the port setting mcast_to_unicast 1 of veth h/va (made from the file: 0)",
    "left out the numtxqueues 4 of veth h/va (made from the file: {txq})",
    "left out the addrgenmode none of veth h/vb (made from the file: eui64)",
    "left out the gso_max_size 30000 of veth h/vb (made from the file: 65536)",
    "left out the gso_ipv4_max_size 30000 of veth h/vb (made from the file: 65536)",
    "left out the group 7 of macvlan h/m0 (made from the file: vnet's own tag)",
}


def _links(sandbox):
    return {ln["ifname"]: ln for ln in json.loads(sandbox.sh("ip -n h -d -j link show"))}


def test_an_export_names_each_setting_the_file_would_lose(sandbox, tmp_path):
    sandbox.sh(LAB)
    links = _links(sandbox)
    names, txq = sorted(links), links["ua"]["num_tx_queues"]   # a veth's default: one queue per CPU
    r = sandbox.vnet("export")
    lines = {ln.removeprefix("vnet export: ").removesuffix(", which a topology cannot declare")
             for ln in r.stderr.splitlines() if "made from the file" in ln}
    assert lines == {w.format(txq=txq) for w in WANT}, r.stderr
    # the comparison made its devices elsewhere and left nothing here
    assert sorted(_links(sandbox)) == names and sandbox.sh("ip netns list").split() == ["h"]

    # each line tells the truth: re-created from the export, the devices have
    # what the lines say a device made from the file has
    path = sandbox.write("exported.yaml", r.stdout)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    with sandboxed(fresh) as again:
        again.vnet("apply", path)
        got = _links(again)
        br = got["br0"]["linkinfo"]["info_data"]
        assert (br["mcast_igmp_version"], br["nf_call_iptables"], br["forward_delay"]) == (2, 0, 200), br
        assert got["va"]["linkinfo"]["info_slave_data"]["mcast_to_unicast"] is False
        assert got["vb"]["gso_max_size"] == 65536 and got["m0"]["group"] != "7"
        assert got["vb"].get("inet6_addr_gen_mode", "eui64") == "eui64"
        assert got["va"]["num_tx_queues"] == txq


@pytest.mark.needs("veth")
def test_an_export_names_what_a_file_cannot_say_of_a_link_lo_or_a_neighbour(sandbox):
    """A neighbour's protocol, lo's MTU, queue length and altnames: a file
    has no field for them, so an export names each on stderr, and the rest
    applies; a device's altnames (`ip link property add ... altname`) are
    written, and made again."""
    sandbox.sh("ip netns add a && ip -n a link add v0 type veth peer name v1 && "
               "ip -n a link property add dev v0 altname uplink-core && ip -n a link set v0 up && "
               "ip -n a link set v1 up && ip -n a addr add 10.0.0.1/24 dev v0 && "
               "ip -n a neigh add 10.0.0.9 lladdr 02:00:00:00:00:09 dev v0 protocol zebra && "
               "ip -n a link set lo mtu 1500 txqueuelen 500 && ip -n a link property add dev lo altname lo-alt")
    r = sandbox.vnet("export", "--netns", "a")
    for line in ("left out the altnames lo-alt of loopback a/lo",
                 "wrote the static neighbour 10.0.0.9 on v0 of namespace a without its protocol (zebra)",
                 "left out the mtu 1500 of lo of namespace a (made from the file: 65536)",
                 "left out the txqueuelen 500 of lo of namespace a (made from the file: 1000)"):
        assert f"vnet export: {line}" in r.stderr, r.stderr
    assert "uplink-core" not in r.stderr, r.stderr
    sandbox.sh("ip netns del a")
    path = sandbox.write("exported.yaml", r.stdout)
    sandbox.vnet("apply", path)
    assert json.loads(sandbox.sh("ip -n a -j link show v0"))[0]["altnames"] == ["uplink-core"]
    assert json.loads(sandbox.vnet("plan", "--json", path).stdout)["changes"] == []
    lo = json.loads(sandbox.sh("ip -n a -j link show lo"))[0]
    assert (lo["mtu"], lo["txqlen"]) == (65536, 1000)   # what the lines say a namespace made from the file has


@pytest.mark.needs("vxlan")
def test_an_export_names_the_namespace_a_moved_vxlan_was_made_in(sandbox):
    """A VXLAN without `dev` made in one namespace and moved to another
    keeps its UDP socket where it was made; a file makes it where it is:
    an export says so."""
    sandbox.sh("ip netns add under && ip netns add c && "
               "ip -n under link add vx1 type vxlan id 43 local 192.0.2.1 remote 192.0.2.3 dstport 4789 && "
               "ip -n under link set vx1 netns c")
    r = sandbox.vnet("export")
    assert "vnet export: left out that vxlan c/vx1 was made in namespace under and moved (its link, a VXLAN's UDP " \
           "socket, is there; made from the file, it is in namespace c)" in r.stderr, r.stderr
