"""The JSON Schema of the topology format, derived from the same field
declarations that validate it."""
from .. import kinds
from ..topology import checks
from ..topology import fields as F
from .loader import NEIGHBOUR, ROUTE, RULE, SYSCTL, TOPOLOGY_NAME, interface_field


def schema():
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "vnet topology",
        "type": "object",
        "required": ["name"],
        "additionalProperties": False,
        "properties": {
            "name": TOPOLOGY_NAME.schema(),
            "namespaces": F.ListOf(F.NsName("namespace", joined=False), "network namespaces to create").schema(),
            "interfaces": {"type": "array", "items": {
                "oneOf": [interface_field(k).schema() for k in kinds.REGISTRY]}},
            "routes": F.ListOf(ROUTE).schema(),
            "rules": F.ListOf(RULE, "policy routing rules (ip rule)").schema(),
            "neighbours": F.ListOf(NEIGHBOUR, "static and proxy neighbour entries (ip neigh add ... nud "
                                              "permanent)").schema(),
            "sysctls": F.ListOf(SYSCTL).schema(),
            "checks": {"type": "array", "description": "traffic that must (or must not) pass: `vnet check`",
                       "items": checks.field_schema()},
        },
    }
