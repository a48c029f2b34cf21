"""Options other kinds gained beside the bridge's (issue 20): a VXLAN's
tos, ageing and udp_csum, a MACVLAN's nopromisc and bcqueuelen, against
`ip -d -j link show`: applied, changed in place where the kernel allows and
re-created where it refuses ("Cannot change UDP_CSUM flag"), exported and
re-applied, and built by the `vnet script` commands run by bash."""
from lab import apply_json, export_round_trip, info, plan_json

TOPO = """name: ko
interfaces:
  - {name: vx0, kind: vxlan, vni: 42, remote: 192.0.2.2, dstport: 4789, tos: 1, ageing: 120, udp_csum: false}
"""


def _vx(sandbox):
    d = info(sandbox.links()["vx0"])
    return d["tos"], d["ageing"], d["udp_csum"]


def test_vxlan_tos_ageing_udp_csum(sandbox):
    f = sandbox.write("t.yaml", TOPO)
    apply_json(sandbox, f)
    assert _vx(sandbox) == ("0x1", 120, False)   # tos 1: inherit, as iproute2 writes it
    assert plan_json(sandbox, f) == []
    ifindex = sandbox.links()["vx0"]["ifindex"]
    sandbox.write("t.yaml", TOPO.replace("tos: 1, ageing: 120", "tos: 16, ageing: 60"))
    changes = plan_json(sandbox, f)
    assert [(c["action"], c["object"]) for c in changes] == [("modify", "link vx0")], changes
    apply_json(sandbox, f)
    assert _vx(sandbox) == ("0x10", 60, False) and sandbox.links()["vx0"]["ifindex"] == ifindex
    sandbox.write("t.yaml", TOPO.replace("udp_csum: false", "udp_csum: true"))
    changes = plan_json(sandbox, f)
    assert [(c["action"], c["object"]) for c in changes] == [("recreate", "link vx0")], changes
    assert "udp_csum False -> True cannot change in place" in changes[0]["reason"]
    apply_json(sandbox, f)
    assert _vx(sandbox) == ("0x1", 120, True)
    assert plan_json(sandbox, f) == []
    export_round_trip(sandbox, "ko", ("tos: 1", "ageing: 120", "udp_csum: true"), lambda: _vx(sandbox),
                      ("0x1", 120, True))
    script = sandbox.vnet("script", f).stdout
    assert "tos inherit ageing 120 udpcsum" in script, script
    sandbox.sh(f"bash -e {sandbox.write('s.sh', script)}")
    assert _vx(sandbox) == ("0x1", 120, True)


def test_bad_vxlan_option_is_exit_2(sandbox):
    f = sandbox.write("t.yaml", TOPO.replace("tos: 1", "tos: 256"))
    r = sandbox.vnet("apply", f, check=False)
    assert r.returncode == 2 and f"{f}: interfaces[0] (vx0).tos: 256 is out of range 0..255" in r.stderr, r.stderr
    assert "vx0" not in sandbox.links()


MACVLAN = """name: km
interfaces:
  - {name: eth1, kind: external}
  - {name: eth2, kind: external}
  - {name: mv0, kind: macvlan, link: eth1, mode: passthru, nopromisc: true}
  - {name: mv1, kind: macvlan, link: eth2, mode: bridge, bcqueuelen: 500}
"""


def _mv(sandbox):
    links = sandbox.links()
    return (info(links["mv0"]).get("nopromisc", False), info(links["mv1"])["bcqueuelen"],
            "PROMISC" in links["eth1"]["flags"] or links["eth1"].get("promiscuity", 0) > 0)


def test_macvlan_nopromisc_and_bcqueuelen(sandbox):
    sandbox.external("eth1")
    sandbox.external("eth2")
    f = sandbox.write("t.yaml", MACVLAN)
    apply_json(sandbox, f)
    # passthru with nopromisc: the lower device is not made promiscuous
    assert _mv(sandbox) == (True, 500, False)
    assert plan_json(sandbox, f) == []
    ifindexes = {n: sandbox.links()[n]["ifindex"] for n in ("mv0", "mv1")}
    sandbox.write("t.yaml", MACVLAN.replace("nopromisc: true", "nopromisc: false").replace("500", "700"))
    changes = plan_json(sandbox, f)
    assert [(c["action"], c["object"]) for c in changes] == [("modify", "link mv0"), ("modify", "link mv1")], changes
    apply_json(sandbox, f)
    assert _mv(sandbox) == (False, 700, True)
    assert {n: sandbox.links()[n]["ifindex"] for n in ("mv0", "mv1")} == ifindexes
    assert plan_json(sandbox, f) == []
    sandbox.write("t.yaml", MACVLAN)
    apply_json(sandbox, f)
    export_round_trip(sandbox, "km", ("nopromisc: true", "bcqueuelen: 500"), lambda: _mv(sandbox), (True, 500, False))
    script = sandbox.vnet("script", f).stdout
    assert "mode passthru flag nopromisc" in script and "mode bridge bcqueuelen 500" in script, script
    sandbox.sh(f"bash -e {sandbox.write('s.sh', script)}")
    assert _mv(sandbox) == (True, 500, False)


def test_nopromisc_outside_passthru_is_exit_2(sandbox):
    f = sandbox.write("t.yaml", MACVLAN.replace("mode: bridge, bcqueuelen: 500", "mode: bridge, nopromisc: true"))
    r = sandbox.vnet("validate", f, check=False)
    assert r.returncode == 2 and f"{f}: interfaces[3] (mv1).nopromisc: only for mode passthru (mode is bridge)" \
        in r.stderr, r.stderr
