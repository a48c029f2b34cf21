"""net_failover (Figure 4): the guest's QEMU offers a virtio-net device with
failover=on, on a hub port that reaches nothing; the kernel makes the
failover master over it. vnet shows the group as one object with its
standby, and a topology may build on it as an `external` device."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def vnet(*args, check=True):
    r = subprocess.run([sys.executable, "-m", "vnet", *args], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": os.path.join(ROOT, "src")})
    assert not check or r.returncode == 0, r.stdout + r.stderr
    return r


@pytest.mark.needs("net_failover")
def test_show_reports_the_failover_group_and_external_use(tmp_path):
    from vm.guest import FAILOVER_MAC
    devs = json.loads(vnet("show", "--json").stdout)["devices"]
    groups = [d for d in devs if d["kind"] == "net_failover"]
    assert len(groups) == 1, f"no single net_failover master in {[(d['name'], d['kind']) for d in devs]}"
    fo = groups[0]
    assert fo["netns"] is None and fo["mac"] == FAILOVER_MAC
    assert fo["standby"] == fo["name"] + "nsby" and fo["primary"] is None
    standby = next(d for d in devs if d["name"] == fo["standby"])
    assert standby["master"] == fo["name"] and standby["mac"] == FAILOVER_MAC
    table = vnet("show").stdout
    assert f"standby {fo['standby']}" in table   # as iproute2 writes words: no key=value
    # a macvlan on the failover device, in a namespace: the group is referred to, never changed
    import re
    f = tmp_path / "fig4.yaml"
    with open(os.path.join(ROOT, "examples", "fig4-net-failover.yaml")) as ex:
        f.write_text(re.sub(r"\beth0\b", fo["name"], ex.read()))
    vnet("apply", str(f))
    shown = json.loads(vnet("show", "--json", str(f)).stdout)["devices"]
    mv = next(d for d in shown if d["name"] == "mv0")
    assert mv["options"]["link"] == f"host/{fo['name']}"
    vnet("destroy", "fig4")
    after = json.loads(vnet("show", "--json").stdout)["devices"]
    assert any(d["name"] == fo["name"] and d["kind"] == "net_failover" for d in after), "destroy touched the group"
    assert not os.path.exists("/run/netns/app")
