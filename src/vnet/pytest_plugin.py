"""pytest plugin (entry point `vnet`): fixtures that build labs and always
tear them down.

    def test_web(vnet_lab):
        lab = vnet_lab("lab.yaml")                     # applied now, destroyed after the test
        assert lab.run("net1", ["curl", "-s", "http://10.0.0.2/"]).returncode == 0

`vnet_lab_module` does the same once per module. Labs need root.

A topology already applied outside the fixture (by hand, by another run)
is refused (vnet.lab.LabInUse, naming its owner) rather than taken over
and destroyed; `vnet_lab(path, reuse=True)`, the `vnet_reuse` marker or
`--vnet-reuse` use it as it is instead, and leave it applied."""
import pytest


def pytest_addoption(parser):
    parser.addoption("--vnet-reuse", action="store_true",
                     help="vnet_lab fixtures use a topology already applied outside them (left applied "
                          "afterwards) instead of refusing it")


def pytest_configure(config):
    config.addinivalue_line("markers", "vnet_reuse: the vnet_lab fixtures of this test (or module) use a "
                            "topology already applied outside them instead of refusing it")


def _reuse_default(request):
    if request.config.getoption("--vnet-reuse", default=False):
        return True
    node = getattr(request, "node", None)
    return bool(node is not None and node.get_closest_marker("vnet_reuse"))


def _factory(request):
    from .lab import Lab
    labs = []

    def make(path, check=False, reuse=None):
        lab = Lab.from_file(str(path), check=check, reuse=_reuse_default(request) if reuse is None else reuse)
        labs.append(lab)
        lab.up()
        return lab

    def teardown():
        errors = []
        for lab in reversed(labs):
            try:
                lab.down()
            except Exception as e:   # noqa: BLE001 - every lab goes down, the first error is raised
                errors.append(e)
        if errors:
            raise errors[0]
    request.addfinalizer(teardown)
    return make


@pytest.fixture
def vnet_lab(request):
    """A factory: ``vnet_lab(path, check=False, reuse=None)`` applies a
    topology for this test (``reuse``: None takes the `vnet_reuse` marker or
    `--vnet-reuse`)."""
    return _factory(request)


@pytest.fixture(scope="module")
def vnet_lab_module(request):
    """A factory whose labs live for the whole module."""
    return _factory(request)
