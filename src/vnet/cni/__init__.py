"""vnet as a CNI plugin (the Container Network Interface, spec 1.1.0 and
0.3.0-1.0.0): a container runtime runs the executable ``vnet`` with
CNI_COMMAND set and the network configuration on stdin. Another front end
on the same model, planner, kinds and records as the command line: a
configuration becomes a small topology whose interfaces go into the
container's namespace (joined by its path), applied, checked and destroyed
as any topology is. A runtime starts the plugin once per container and
command, so each module imports only what its command needs.

    errors      the spec's error object, and vnet's own codes
    versions    the versions spoken, and a result in each one's shape
    config      the network configuration read into a topology document
    ipam        the IPAM plugin run as the spec says, its result read
    attachment  what one (container, interface) owns: its topology's name and record
    commands    ADD, DEL, CHECK, GC, STATUS, VERSION
    main        the environment and stdin read, a command run, its answer written
    client      the executable's fast path: the call handed to a warm vnet (else main)
    server      the warm vnet: modules imported once, a forked child per call
    install     `vnet cni install`: the executable a runtime finds in CNI_PATH
"""
