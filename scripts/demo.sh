#!/usr/bin/env bash
# Set up, then the main job on the bundled Figure 10 example: apply it, ping
# across the bridge, show it, destroy it. Runs in a throwaway network and
# mount namespace, so the machine's own network is never touched.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec unshare --mount --net --propagation private bash -c '
  set -euo pipefail
  mount -t tmpfs none /run && mkdir -p /run/netns /run/vnet && ip link set lo up
  V=.venv/bin/vnet
  F=examples/fig10-bridge.yaml
  set -x
  $V plan $F
  $V apply $F
  ip netns exec net1 ping -c 3 -W 2 10.0.10.2
  $V check $F
  $V show $F
  $V diagram --live -o /tmp/vnet-demo-fig10.svg   # the live namespaces drawn as the reference draws Figure 10
  $V script $F
  $V destroy $F
'
