"""What a container got from a CNI plugin, in a form two plugins' work (or
two runs of one) can be compared in: the container's links, addresses and
routes (`ip -d -j link`, `ip -j addr`, `ip -j route`, read inside its
network namespace by path with nsenter) and the host-side devices its
links lead to (a veth's host end, a macvlan's or vlan's lower device, and
the bridge such a device is a port of), with what differs from run to run
left out: MACs, ifindexes, the kernel's IPv6 link-local addresses and
routes, and the random names of veth host ends (named by the container
interface they pair with). Also `normalize_result` for a CNI result."""
import json
import re
import subprocess

# what of a link's kind-specific data is configuration: macvlan/ipvlan mode,
# ipvlan flags, vlan id and protocol
_INFO_KEEP = ("mode", "flags", "id", "protocol")
_ROUTE_KEEP = ("dst", "gateway", "dev", "scope", "prefsrc", "protocol", "metric", "flags", "type")
_MAC = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")


def ip_json(netns_path, *args):
    """`ip -j ARGS` in the network namespace at `netns_path` (None: this one)."""
    cmd = (["nsenter", f"--net={netns_path}"] if netns_path else []) + ["ip", "-j", *args]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out) if out.strip() else []


def dump(netns_path=None):
    """The raw links, addresses and main-table routes (IPv4 and IPv6) of a namespace."""
    return {"links": ip_json(netns_path, "-d", "link", "show"),
            "addrs": ip_json(netns_path, "addr", "show"),
            "routes": ip_json(netns_path, "route", "show") + ip_json(netns_path, "-6", "route", "show")}


def snapshot(netns_path, host_netns=None):
    """{"container": SIDE, "host": SIDE} for the container at `netns_path`;
    the host is `host_netns` (None: the caller's namespace). A SIDE is
    {"links": {label: view}, "routes": [route]}: see `link_view`, `route_view`."""
    box, host = dump(netns_path), dump(host_netns)
    box_labels = {ln["ifindex"]: ln["ifname"] for ln in box["links"]}
    host_labels = involved(box["links"], host["links"])
    return {"container": side(box, box_labels, host_labels),
            "host": side(host, host_labels, box_labels)}


def involved(box_links, host_links):
    """{host ifindex: label} of the host devices the container's links lead
    to, and of their masters: a veth host end is labelled by its container
    peer ("<veth peer of eth0>"), every other device by its name."""
    by_index = {ln["ifindex"]: ln for ln in host_links}
    by_name = {ln["ifname"]: ln for ln in host_links}
    labels = {}
    for ln in box_links:
        other = by_index.get(ln.get("link_index")) if "link_netnsid" in ln else None
        if other is None:
            continue
        paired = kind_of(other) == "veth" and other.get("link_index") == ln["ifindex"]
        labels[other["ifindex"]] = f"<veth peer of {ln['ifname']}>" if paired else other["ifname"]
        master = by_name.get(other.get("master"))
        if master is not None:
            labels[master["ifindex"]] = master["ifname"]
    return labels


def kind_of(link):
    return (link.get("linkinfo") or {}).get("info_kind")


def side(d, labels, peer_labels):
    """The normalized view of the links of `d` that `labels` names (their
    addresses with them) and of the routes through them."""
    addrs = {a["ifindex"]: a.get("addr_info", []) for a in d["addrs"]}
    names = {ln["ifname"]: labels[ln["ifindex"]] for ln in d["links"] if ln["ifindex"] in labels}
    links = {labels[ln["ifindex"]]: {**link_view(ln, labels, peer_labels),
                                     "addrs": addr_view(addrs.get(ln["ifindex"], []))}
             for ln in d["links"] if ln["ifindex"] in labels}
    routes = [route_view(r, names) for r in d["routes"] if r.get("dev") in names and not link_local(r)]
    return {"links": links, "routes": sorted(routes, key=lambda r: json.dumps(r, sort_keys=True))}


def link_view(link, labels, peer_labels):
    """kind, the kind's mode/flags/vlan id and protocol, mtu, up, the
    master's name and the lower device's (or veth peer's) label."""
    data = (link.get("linkinfo") or {}).get("info_data") or {}
    view = {"kind": kind_of(link), **{k: data[k] for k in _INFO_KEEP if k in data},
            "mtu": link.get("mtu"), "up": "UP" in link.get("flags", [])}
    if link.get("master"):
        view["master"] = link["master"]
    if "link_index" in link:
        where = peer_labels if "link_netnsid" in link else labels
        view["lower"] = where.get(link["link_index"], "<elsewhere>")
    return view


def addr_view(addr_info):
    """ADDRESS/PREFIX of each address but the kernel's IPv6 link-local ones, sorted."""
    return sorted(f"{a['local']}/{a['prefixlen']}" for a in addr_info
                  if not (a.get("family") == "inet6" and a.get("scope") == "link"))


def link_local(route):
    return route.get("dst", "").startswith("fe80::")


def route_view(route, names):
    """A route's destination, gateway, device (by label), scope, source,
    protocol, metric and flags."""
    view = {k: route[k] for k in _ROUTE_KEEP if k in route and route[k] not in ([], None)}
    view["dev"] = names[route["dev"]]
    return view


def host_veths(netns_path=None):
    """The names of the veth devices in a namespace (None: this one)."""
    return {ln["ifname"] for ln in ip_json(netns_path, "-d", "link", "show") if kind_of(ln) == "veth"}


def normalize_result(result, veth_names=None, sandboxes=None):
    """A CNI result with what differs between runs abstracted, its keys and
    shape kept: each MAC becomes "<mac>", each sandbox path its label in
    `sandboxes` (a {path: label} dict) or "<netns>", and each host-side
    interface named in `veth_names` (default: the veths now in this
    namespace) "<veth0>", "<veth1>"... in order."""
    veths = host_veths() if veth_names is None else set(veth_names)
    out, labels = json.loads(json.dumps(result)), {}
    for i in out.get("interfaces", []):
        if _MAC.match(i.get("mac", "")):
            i["mac"] = "<mac>"
        if i.get("sandbox"):
            i["sandbox"] = (sandboxes or {}).get(i["sandbox"], "<netns>")
        elif i.get("name") in veths:
            i["name"] = labels.setdefault(i["name"], f"<veth{len(labels)}>")
    return out
