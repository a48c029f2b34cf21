"""Options other kinds gained beside the bridge's (issue 20): a VXLAN's
tos, ageing and udp_csum, against `ip -d -j link show`: applied, changed in
place where the kernel allows (tos, ageing) and re-created where it refuses
("Cannot change UDP_CSUM flag"), exported and re-applied, and built by the
`vnet script` commands run by bash."""
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
