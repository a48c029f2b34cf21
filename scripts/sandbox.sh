#!/usr/bin/env bash
# Run a command (default: a shell) as root in a throwaway network and mount
# namespace with its own /run, as the tests and the demo do: whatever it
# builds (namespaces, devices, vnet's records) goes when it ends, and the
# machine's own network and /run/netns are never touched. For trying things
# by hand: `scripts/sandbox.sh`, then `ip netns add n1`, `.venv/bin/vnet apply ...`.
set -euo pipefail
(($#)) || set -- bash
exec unshare --mount --net --propagation private sh -c '
  mount -t tmpfs none /run && mkdir -p /run/netns /run/vnet && ip link set lo up && exec "$@"' sandbox "$@"
