"""Small helpers shared by the integration tests: vnet's JSON output and
`ip -j -d` details, as a user would read them."""
import json
import threading
import time


def apply_json(sb, path):
    return json.loads(sb.vnet("apply", "--json", path).stdout)


def plan_json(sb, path):
    return json.loads(sb.vnet("plan", "--json", path).stdout)["changes"]


def info(link):
    """The kind details of one `ip -j -d link` entry."""
    return link.get("linkinfo", {}).get("info_data", {})


def pings_during(ns, addr, action, before=1.0, after=3.0, timeout=0.3):
    """Ping ``addr`` from ``ns`` again and again while ``action`` runs
    (``before`` seconds after the pings start, ``after`` seconds before they
    stop): the list of results, True for each answered echo."""
    from vnet.check.ping import ping
    results, stop = [], threading.Event()

    def pinger():
        while not stop.is_set():
            results.append(ping(ns, addr, timeout=timeout))
            time.sleep(0.05)
    t = threading.Thread(target=pinger)
    t.start()
    try:
        time.sleep(before)
        action()
        time.sleep(after)
    finally:
        stop.set()
        t.join()
    return results


def export_round_trip(sb, name, words, state, want):
    """`vnet export NAME` writes each of ``words``, plans empty, and applied
    from nothing (after a destroy) gives ``state()`` == ``want``; destroyed
    again at the end."""
    exported = sb.vnet("export", name).stdout
    for word in words:
        assert word in exported, (word, exported)
    e = sb.write("exported.yaml", exported)
    assert plan_json(sb, e) == []
    sb.vnet("destroy", name)
    apply_json(sb, e)
    assert state() == want
    sb.vnet("destroy", name)
