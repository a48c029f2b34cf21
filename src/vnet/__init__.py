"""vnet: declarative Linux virtual networking.

    import vnet
    topo = vnet.load("lab.yaml")
    print(vnet.plan(topo).changes)   # what apply would do, with reasons
    vnet.apply(topo)                 # make it so, verified; undone on failure
    vnet.destroy("lab1")             # remove everything the topology owns

Its modules stand in layers, lowest first. A module imports only from its own
layer or a lower one, at its top or inside a function alike: an import inside
a function is there to save start-up time, never to break a cycle
(tests/unit/test_layers.py reads this list and holds every import to it).

    1. errors, statedir: what any part raises; where vnet keeps what outlives a run
    2. topology: the typed model, pure (no kernel, no kind)
    3. kernel: the netlink codec, namespaces, sysctls, ioctls
    4. state, ownership, tun, tunnel, daemon: the observed state (devices,
       routes, sysctls); a topology's record; the TUN device API, the tunnel
       program and the supervisor of the programs vnet runs
    5. kinds: one module per interface kind, on the model's fields and the codec
    6. topofile, observer, declare: a file read into the model (each
       kind's options are part of its format); the live state read into
       devices of those kinds; an observed device declared as a file would
    7. planner, export, export_left, export_settings, render, diagram, check: the plan, and what is said or
       drawn of the model and the observed state
    8. applier, destroyer: the changes made (the modules are not named plan, apply
       or destroy: a submodule would shadow the function of the API)
    9. api: the functions of this API (load, observe, plan, apply, destroy)
    10. vnet, lab: the package that offers them, and a lab as a Python object
    11. cli, cni, __main__, pytest_plugin: the front ends (cni: vnet as a
        container runtime's CNI plugin)
"""
__version__ = "0.1.0"

from .api import apply, destroy, load, observe, plan  # noqa: E402,F401  (the API)


def __getattr__(name):
    if name == "Lab":   # imported on first use: `vnet plan` does not pay for it
        from .lab import Lab
        return Lab
    raise AttributeError(name)
