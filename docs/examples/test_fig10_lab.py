"""Testing networked software in a vnet lab, with the `vnet_lab` fixture
(the pytest plugin vnet installs). Run as root: pytest docs/examples/"""
import os
import sys
import time
import urllib.request

import pytest

FIG10 = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "fig10-bridge.yaml")


def test_ping_across_the_bridge(vnet_lab):
    lab = vnet_lab(FIG10)                      # applied now, destroyed after the test
    r = lab.run("net1", ["ping", "-c1", "-W2", "10.0.10.2"])
    assert r.returncode == 0, r.stdout + r.stderr


def test_a_web_server_in_one_namespace_answers_the_other(vnet_lab, tmp_path):
    lab = vnet_lab(FIG10, check=True)          # its checks must pass first
    (tmp_path / "index.html").write_text("hello from net2")
    lab.popen("net2", [sys.executable, "-m", "http.server", "8000", "--bind", "10.0.10.2"], cwd=tmp_path,
              stdout=open(os.devnull, "w"), stderr=open(os.devnull, "w"))
    with lab.netns("net1"):                    # this urllib socket lives in net1
        for _ in range(50):
            try:
                body = urllib.request.urlopen("http://10.0.10.2:8000/", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("the server in net2 never answered")
    assert body == b"hello from net2"


@pytest.mark.skipif(not os.environ.get("VNET_DEMO_FAILURE"), reason="a failure shown on demand")
def test_a_failing_test_still_tears_everything_down(vnet_lab):
    lab = vnet_lab(FIG10)
    lab.popen("net1", ["sleep", "31337"])
    assert lab.run("net1", ["ping", "-c1", "-W1", "10.0.10.99"]).returncode == 0   # nobody there: fails
