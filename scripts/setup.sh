#!/usr/bin/env bash
# Install what vnet and its tests need on Debian 12 (as root), into ./.venv.
# With --guest also what the full-kernel test guest needs: QEMU, Debian's
# kernel (for the kinds this machine's kernel may lack) and virtme-ng's
# static busybox.
set -euo pipefail
cd "$(dirname "$0")/.."
# containernetworking-plugins: the reference CNI plugins (/usr/lib/cni) the CNI runtime's tests drive;
# gcc and libc6-dev: `vnet cni install` compiles the plugin's fast path (src/vnet/cni/client.c) with them;
# iptables and nftables: the CNI bridge form's ipMasq and macspoofchk
pkgs=(iproute2 python3-venv python3-pip iputils-ping libteam-utils iperf3 graphviz containernetworking-plugins
      gcc libc6-dev iptables nftables)
[ "${1:-}" = "--guest" ] && pkgs+=(qemu-system-x86 linux-image-amd64 busybox-static strace)
# the control-plane benchmark's third baseline: mininet with Linux bridges
# (without its recommended Open vSwitch, which would start a daemon)
bench=(mininet bridge-utils)
# the CNI tests' container runtime: podman (CNI backend) with runc, the
# reference CNI plugins, and the static busybox its containers are made of
# (without podman's recommends: crun, slirp4netns, a D-Bus session...)
runtime=(podman runc containernetworking-plugins busybox-static)
missing() {
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || echo "$p"
  done
}
need=($(missing "${pkgs[@]}"))
need_bare=($(missing "${bench[@]}" "${runtime[@]}"))
if ((${#need[@]} + ${#need_bare[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  ((${#need[@]} == 0)) || apt-get install -y -qq "${need[@]}" >/dev/null
  ((${#need_bare[@]} == 0)) || apt-get install -y -qq --no-install-recommends "${need_bare[@]}" >/dev/null
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e ".[test,completion]"
