#!/usr/bin/env bash
# Install what vnet and its tests need on Debian 12 (as root), into ./.venv.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
for p in iproute2 python3-venv python3-pip iputils-ping; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need+=("$p")
done
if ((${#need[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e ".[test]"
