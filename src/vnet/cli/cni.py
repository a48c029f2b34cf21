"""`vnet cni install`: put the CNI plugin where a runtime looks for it."""


def cmd_cni(args):
    from ..cni.install import install
    from ..errors import VnetError
    try:
        path = install(args.dir, python=args.python, package_dir=args.package_dir)
    except ValueError as e:
        raise VnetError(str(e)) from None
    except OSError as e:
        raise VnetError(f"cannot write the plugin into {args.dir}: {e.strerror}") from None
    print(f"installed the CNI plugin 'vnet' as {path} (a network configuration names it by \"type\": \"vnet\")")
