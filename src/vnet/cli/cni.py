"""`vnet cni install`: put the CNI plugin where a runtime looks for it."""


def cmd_cni(args):
    from ..cni.install import install
    from ..errors import VnetError
    try:
        path = install(args.dir, python=args.python, package_dir=args.package_dir, compiled=not args.no_compile)
    except ValueError as e:
        raise VnetError(str(e)) from None
    except OSError as e:
        raise VnetError(f"cannot write the plugin into {args.dir}: {e.strerror}") from None
    how = "compiled, the Python plugin beside it" if _compiled(path) else "a Python script"
    print(f"installed the CNI plugin 'vnet' as {path}, {how} (a network configuration names it by \"type\": "
          "\"vnet\")")


def _compiled(path):
    with open(path, "rb") as f:
        return f.read(4) == b"\x7fELF"
