"""The Python lab API and the pytest plugin, used as a user would: the
worked example in docs/examples runs under pytest (one test failing on
purpose), and nothing it built or started is left behind."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIG10 = os.path.join(ROOT, "examples", "fig10-bridge.yaml")


def _procs(word):
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/cmdline", "rb") as f:
                    if word.encode() in f.read():
                        out.append(int(p))
            except OSError:
                pass
    return out


@pytest.mark.needs("bridge", "veth")
def test_the_plugin_example_passes_and_a_failure_leaves_nothing(sandbox):
    env = {**os.environ, "VNET_DEMO_FAILURE": "1", "PYTHONPATH": os.path.join(ROOT, "src")}
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", ROOT,
                        os.path.join(ROOT, "docs", "examples", "test_fig10_lab.py")],
                       capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert "2 passed" in r.stdout and "1 failed" in r.stdout, r.stdout + r.stderr
    assert "test_a_failing_test_still_tears_everything_down" in r.stdout
    assert os.listdir("/run/netns") == [], "a namespace was left behind"
    assert not os.path.exists("/run/vnet/fig10.json")
    assert _procs("31337") == [], "a process the lab started was left running"


@pytest.mark.needs("bridge", "veth")
def test_lab_api_in_process(sandbox):
    from vnet import Lab
    with pytest.raises(TypeError):
        Lab.from_file(FIG10).run("net1", "ping 10.0.10.2")
    with Lab.from_file(FIG10) as lab:
        assert lab.ping("net1", "10.0.10.2")
        assert all(r.ok for r in lab.check())
        assert lab.run("net2", ["ip", "-br", "addr", "show", "eth0"]).stdout.split()[2] == "10.0.10.2/24"
        p = lab.popen("net1", ["sleep", "31338"])
        with pytest.raises(ValueError):
            lab.netns("nowhere")
    assert p.poll() is not None and os.listdir("/run/netns") == []
    # an exception inside the block still destroys the lab
    with pytest.raises(RuntimeError):
        with Lab.from_file(FIG10) as lab:
            raise RuntimeError("boom")
    assert os.listdir("/run/netns") == [] and not os.path.exists("/run/vnet/fig10.json")
