import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

IN_GUEST = bool(os.environ.get("VNET_IN_GUEST"))


def pytest_addoption(parser):
    parser.addoption("--guest-only", action="store_true",
                     help="run only the tests this kernel cannot, in the full-kernel guest")
    parser.addoption("--host-only", action="store_true",
                     help="run only the tests this kernel can (no guest boots; the others are deselected)")


def pytest_configure(config):
    config.addinivalue_line("markers", "needs(*features): kernel features (interface kinds...) the test needs; "
                            "it runs on this kernel when it has them, in the full-kernel guest otherwise")


class GuestItem(pytest.Item):
    """Stands on the host for a test that runs in the guest, and reports its
    real outcome and output there."""

    def __init__(self, *, guest, needs, **kw):
        super().__init__(**kw)
        self.guest, self.needs = guest, needs

    def runtest(self):
        from vm.guest import GuestError
        try:
            res = self.guest.results()
        except GuestError as e:
            raise GuestFailure(f"needs {', '.join(self.needs)} (not in this kernel): guest failed: {e}") from None
        r = res.get(self.nodeid)
        if r is None:
            raise GuestFailure(f"the guest ({self.guest.kernel_release()}) did not run this test\n"
                               + self.guest._logs())
        for name, text in r["sections"]:
            self.add_report_section("call", name, text)
        if r["outcome"] != "passed":
            raise GuestFailure(f"in the guest ({self.guest.kernel_release()}): {r['outcome']}\n{r['longrepr']}")

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, GuestFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, f"{self.name} [guest]"


class GuestFailure(Exception):
    pass


def pytest_collection_modifyitems(session, config, items):
    marked = [(i, it) for i, it in enumerate(items) if it.get_closest_marker("needs")]
    if IN_GUEST:
        return   # in the guest, a missing feature makes the test fail: never a skip
    if not marked:
        if config.getoption("--guest-only"):
            config.hook.pytest_deselected(items=list(items))
            items[:] = []
        return
    import kernel_features
    delegate = []
    for i, it in marked:
        needs = it.get_closest_marker("needs").args
        try:
            missing = kernel_features.missing(needs)
        except kernel_features.UnknownFeature as e:
            raise pytest.UsageError(f"{it.nodeid}: {e}") from None
        if missing:
            delegate.append((i, it, missing))
    if not delegate:
        return
    if config.getoption("--host-only"):
        gone = {i for i, _it, _m in delegate}
        config.hook.pytest_deselected(items=[it for _i, it, _m in delegate])
        items[:] = [it for i, it in enumerate(items) if i not in gone]
        return
    from vm.guest import Guest
    # booted when the first of its tests runs, after the host's own: a TCG
    # guest booting beside the host's integration tests was seen to hang
    guest = config._vnet_guest = Guest([it.nodeid for _i, it, _m in delegate])
    proxies = [GuestItem.from_parent(it.parent, name=it.name, guest=guest, needs=missing)
               for _i, it, missing in delegate]
    gone = {i for i, _it, _m in delegate}
    # the guest's tests last
    host = [it for i, it in enumerate(items) if i not in gone]
    if config.getoption("--guest-only"):
        config.hook.pytest_deselected(items=host)
        host = []
    items[:] = host + proxies


def pytest_unconfigure(config):
    guest = getattr(config, "_vnet_guest", None)
    if guest is not None:
        guest.close()
