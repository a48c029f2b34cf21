"""Small helpers shared by the integration tests: vnet's JSON output and
`ip -j -d` details, as a user would read them."""
import json


def apply_json(sb, path):
    return json.loads(sb.vnet("apply", "--json", path).stdout)


def plan_json(sb, path):
    return json.loads(sb.vnet("plan", "--json", path).stdout)["changes"]


def info(link):
    """The kind details of one `ip -j -d link` entry."""
    return link.get("linkinfo", {}).get("info_data", {})
