"""`vnet cni install`: the executable a container runtime finds by the
``type`` "vnet" in CNI_PATH. It names this Python by its absolute path
and starts it isolated and without site (-IS: no PATH lookup through a
version manager's shim, no site-packages scan), with vnet's own directory
on its path: a CNI call pays for nothing it does not use. Without
CNI_COMMAND it is the `vnet` command."""
import os
import site
import sys

DEFAULT_DIR = "/opt/cni/bin"

TEMPLATE = """#!{python} -IS
# vnet {version} as a CNI plugin: written by `vnet cni install`; run again to update.
import os, sys
sys.path[:0] = [{package_dir!r}]
if os.environ.get("CNI_COMMAND") is not None:
    from vnet.cni.client import run
    sys.exit(run({build!r}))
else:
    sys.path[1:1] = {site_dirs!r}
    from vnet.cli import main
sys.exit(main())
"""


def text(python=None, package_dir=None):
    """The executable's text, for this vnet and this Python; or for the
    interpreter ``python`` and the directory ``package_dir`` holding vnet
    (and, for the `vnet` command, its dependencies), both absolute paths as
    the executable's own system sees them. Another interpreter gets none of
    this one's site directories."""
    from .. import __version__
    for what, path in (("interpreter", python), ("package directory", package_dir)):
        if path is not None and not os.path.isabs(path):
            raise ValueError(f"the {what} {path!r}: expected an absolute path")
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    package_dir = package_dir or here
    site_dirs = [] if python else [d for d in site.getsitepackages() if os.path.isdir(d) and d != package_dir]
    python = python or os.path.abspath(sys.executable)
    return TEMPLATE.format(python=python, version=__version__, package_dir=package_dir, site_dirs=site_dirs,
                           build=_build_id(python, package_dir, __version__))


def _build_id(*parts):
    """What names the warm vnet (vnet.cni.server) of this installation: a
    server of another vnet or Python, or of an earlier install, is never
    handed a call (it idles out)."""
    import time
    import zlib
    text = "\0".join(parts + (str(time.time_ns()),))
    return "%08x" % zlib.crc32(text.encode())


def install(directory=DEFAULT_DIR, name="vnet", python=None, package_dir=None):
    """Write the executable into ``directory`` (made if missing) atomically;
    its path. ``python`` and ``package_dir``: as text() takes them."""
    content = text(python, package_dir)
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, name)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(content)
    os.chmod(tmp, 0o755)
    os.replace(tmp, path)
    return path
