"""pytest plugin (entry point `vnet`): fixtures that build labs and always
tear them down.

    def test_web(vnet_lab):
        lab = vnet_lab("lab.yaml")                     # applied now, destroyed after the test
        assert lab.run("net1", ["curl", "-s", "http://10.0.0.2/"]).returncode == 0

`vnet_lab_module` does the same once per module. Labs need root."""
import pytest


def _factory(request):
    from .lab import Lab
    labs = []

    def make(path, check=False):
        lab = Lab.from_file(str(path), check=check)
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
    """A factory: ``vnet_lab(path, check=False)`` applies a topology for this test."""
    return _factory(request)


@pytest.fixture(scope="module")
def vnet_lab_module(request):
    """A factory whose labs live for the whole module."""
    return _factory(request)
