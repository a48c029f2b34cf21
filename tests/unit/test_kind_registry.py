"""The registry loads a kind's module only when the kind is needed, from
tables that say what the kinds' classes say: those tables are held to the
classes here, so a kind added or changed cannot be missed by identify,
recognize or the loader's port options."""
import subprocess
import sys

import vnet.kinds as kinds
from vnet.kinds.base import Kind


def test_the_tables_say_what_the_kinds_classes_say():
    registry = kinds.REGISTRY
    assert [k.name for k in registry] == [n for n, _, _ in kinds.BUILTIN]
    by_kernel = {}
    for k in registry:
        if k.kernel_kind:
            by_kernel.setdefault(k.kernel_kind, []).append(k.name)
    assert {kk: tuple(v) for kk, v in by_kernel.items()} == kinds.KERNEL_KINDS
    recognizers = [k.name for k in registry if type(k).recognize is not Kind.recognize]
    assert tuple(recognizers) == kinds.RECOGNIZERS
    assert tuple(k.name for k in registry if k.port_options) == kinds.PORT_MASTERS


def test_a_kind_is_loaded_when_first_needed_and_not_before():
    code = ("import sys, vnet.kinds as k; k.BY_NAME['macvlan']; "
            "print(sorted(m for m in sys.modules if m.startswith('vnet.kinds.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = eval(out)
    assert "vnet.kinds.macvlan" in loaded
    assert not {"vnet.kinds.team", "vnet.kinds.bond", "vnet.kinds.macsec", "vnet.kinds.vxlan"} & set(loaded)


def test_an_unknown_name_is_no_kind():
    assert "wormhole" not in kinds.BY_NAME and kinds.BY_NAME.get("wormhole") is None
    assert kinds.BY_NAME.get(3) is None
