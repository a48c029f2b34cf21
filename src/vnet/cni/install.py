"""`vnet cni install`: the executable a container runtime finds by the
``type`` "vnet" in CNI_PATH. It names this Python by its absolute path
and starts it isolated and without site (-IS: no PATH lookup through a
version manager's shim, no site-packages scan), with vnet's own directory
on its path: a CNI call pays for nothing it does not use. Without
CNI_COMMAND it is the `vnet` command.

With a C compiler (``cc``, or $CC) the executable is client.c compiled,
and the script is installed beside it as FALLBACK: a call then costs an
exec of a small program and the warm vnet's fork, not a Python start
(7-10 ms, a third of a DEL). The program runs the script for all but the
handing over of a call to a warm vnet. Without a compiler, or with
``compiled=False``, the executable is the script itself."""
import os
import site
import sys

DEFAULT_DIR = "/opt/cni/bin"
FALLBACK = ".vnet-python"   # the script beside the compiled executable (hidden: it is no plugin type)

TEMPLATE = """#!{python} -IS
# vnet {version} as a CNI plugin: written by `vnet cni install`; run again to update.
import os, sys
sys.path[:0] = [{package_dir!r}]
if os.environ.get("CNI_COMMAND") is not None:
    from vnet.cni.client import run
    sys.exit(run({build!r}))
else:
    sys.path[1:1] = {site_dirs!r}
    from vnet.cli import entry
    sys.exit(entry())
"""


def text(python=None, package_dir=None, build=None):
    """The executable's text, for this vnet and this Python; or for the
    interpreter ``python`` and the directory ``package_dir`` holding vnet
    (and, for the `vnet` command, its dependencies), both absolute paths as
    the executable's own system sees them. Another interpreter gets none of
    this one's site directories. ``build``: the installation's id (a new one by default)."""
    from .. import __version__
    for what, path in (("interpreter", python), ("package directory", package_dir)):
        if path is not None and not os.path.isabs(path):
            raise ValueError(f"the {what} {path!r}: expected an absolute path")
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    package_dir = package_dir or here
    site_dirs = [] if python else [d for d in site.getsitepackages() if os.path.isdir(d) and d != package_dir]
    python = python or os.path.abspath(sys.executable)
    return TEMPLATE.format(python=python, version=__version__, package_dir=package_dir, site_dirs=site_dirs,
                           build=build or _build_id(python, package_dir, __version__))


def _build_id(*parts):
    """What names the warm vnet (vnet.cni.server) of this installation: a
    server of another vnet or Python, or of an earlier install, is never
    handed a call (it idles out)."""
    import time
    import zlib
    text = "\0".join(parts + (str(time.time_ns()),))
    return "%08x" % zlib.crc32(text.encode())


def install(directory=DEFAULT_DIR, name="vnet", python=None, package_dir=None, compiled=True):
    """Write the executable into ``directory`` (made if missing) atomically;
    its path. ``python`` and ``package_dir``: as text() takes them.
    ``compiled``: the fast path compiled when a C compiler is there (the
    script beside it), else the script alone."""
    from .. import __version__
    build = _build_id(python or sys.executable, package_dir or "", __version__)
    content = text(python, package_dir, build)
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, name)
    if compiled:
        _write(os.path.join(directory, FALLBACK), content)   # before the program that runs it
        if _compile(build, path):
            return path
    _write(path, content)
    return path


def _write(path, content):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(content)
    os.chmod(tmp, 0o755)
    os.replace(tmp, path)


def _compile(build, path):
    """client.c compiled for ``build`` into ``path`` (atomically); False when
    there is no C compiler or it fails (static first: a program built in an
    installer's image then runs on a node with another C library)."""
    import shutil
    import subprocess
    cc = shutil.which(os.environ.get("CC") or "cc")
    if cc is None:
        return False
    source = os.path.join(os.path.dirname(os.path.abspath(__file__)), "client.c")
    tmp = f"{path}.tmp{os.getpid()}"
    for static in (["-static"], []):
        cmd = [cc, "-O2", *static, f'-DVNET_BUILD="{build}"', f'-DVNET_FALLBACK="{FALLBACK}"', "-o", tmp, source]
        try:
            if subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=120).returncode == 0:
                os.chmod(tmp, 0o755)
                os.replace(tmp, path)
                return True
        except (OSError, subprocess.SubprocessError):
            pass
    try:
        os.unlink(tmp)
    except OSError:
        pass
    return False
