"""The kernel step of each kind of change, by the name a plan gives it; each
returns its inverse, which the journal keeps (in the topology's record).

    context    what a run of steps shares (sockets, indexes, what was read)
    devices    namespaces and devices
    routing    addresses and routes
    entries    rules, neighbour entries, sysctls
    nexthops   nexthop objects"""
from . import devices as d, entries as en, nexthops as nh, routing as r
from .context import Context

OPS = {"nh_add": nh.nh_add, "nh_set": nh.nh_set, "nh_del": r.nh_del, "nh_remake": r.nh_remake,
       "nh_forget": nh.nh_forget, "sysctl_restore": en.sysctl_restore, "port_set": d.port_set,
       "ns_create": d.ns_create, "ns_delete": d.ns_delete, "dev_create": d.create, "dev_options": d.options,
       "dev_set": d.set_endpoint, "addr_add": r.addr_add, "addr_del": r.addr_del, "route_add": r.route_add,
       "route_del": r.route_del, "rule_add": en.rule_add, "rule_del": en.rule_del, "neigh_set": en.neigh_set,
       "neigh_del": en.neigh_del, "neigh_forget": en.neigh_forget, "sysctl_set": en.sysctl_set}
NEEDS_STATE = {"dev_delete": d.dev_delete, "dev_recreate": d.recreate}
__all__ = ["Context", "NEEDS_STATE", "OPS"]
