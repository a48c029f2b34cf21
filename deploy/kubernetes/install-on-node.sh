#!/bin/sh
# install-on-node.sh: the init container of the DaemonSet (vnet-cni-daemonset.yaml).
#
# The plugin executable is a Python script, so the node needs an interpreter
# with vnet in it: this copies the image's self-contained one (VNET_SRC, made
# by make-prefix.sh) onto the node as VNET_HOME/BUILD_ID, checks that the
# node runs it (chroot into the node's root), then writes CNI_BIN_DIR/vnet
# with `vnet cni install --python --package-dir`, naming that interpreter
# and its site-packages by their paths on the node, and asks it VERSION
# there. The executable is replaced atomically; the build it named before is
# kept (a call may still be running it), older builds go. A node that cannot
# run the new build keeps its executable as it was, and this fails.
set -eu

VNET_SRC=${VNET_SRC:-/opt/vnet}           # in the image
VNET_HOME=${VNET_HOME:-/opt/vnet}         # on the node: one directory per build
CNI_BIN_DIR=${CNI_BIN_DIR:-/opt/cni/bin}  # on the node: where the runtime (Multus) looks for plugins
HOST=${HOST:-/host}                       # the node's VNET_HOME and CNI_BIN_DIR are mounted under it
HOST_ROOT=${HOST_ROOT:-/host-root}        # the node's / (read-only), for the checks

say() { echo "vnet-install: $*"; }

id=$(cat "$VNET_SRC/BUILD_ID")
python=$(basename "$(readlink -f "$VNET_SRC/bin/python3")")
site=$(cd "$VNET_SRC" && echo lib/python3*/site-packages)
home="$HOST$VNET_HOME"
build="$home/$id"
plugin="$HOST$CNI_BIN_DIR/vnet"
mkdir -p "$home" "$HOST$CNI_BIN_DIR"

if [ ! -e "$build/.vnet-build" ]; then
    rm -rf "$build" "$build.partial"
    cp -a "$VNET_SRC" "$build.partial"
    echo "$id" > "$build.partial/.vnet-build"
    mv "$build.partial" "$build"
    say "copied build $id to $VNET_HOME/$id on the node"
fi

on_node() {   # run a command in the node's root (skipped without it)
    if [ -d "$HOST_ROOT/proc" ]; then
        chroot "$HOST_ROOT" "$@"
    else
        say "the node's root is not at $HOST_ROOT: not checking that the node runs: $*" >&2
    fi
}

if ! on_node "$VNET_HOME/$id/bin/$python" -IS -c "
import sys
sys.path[:0] = ['$VNET_HOME/$id/$site']
import ctypes, vnet.cni.main, vnet.cni.commands, vnet.api, vnet.kernel.netns, vnet.topofile.loader
ctypes.CDLL(None)"; then
    say "the node cannot run $VNET_HOME/$id/bin/$python (is its glibc older than the image's? see" \
        "deploy/kubernetes/README.md); $CNI_BIN_DIR/vnet is left as it was" >&2
    exit 1
fi

# the build the executable named until now (the script's first line: the
# executable itself, or the script beside it where it was compiled)
script="$plugin"
[ -e "$HOST$CNI_BIN_DIR/.vnet-python" ] && script="$HOST$CNI_BIN_DIR/.vnet-python"
previous=$(sed -n "1s|^#!$VNET_HOME/\([^/]*\)/.*|\1|p" "$script" 2>/dev/null || true)

"$VNET_SRC/bin/python3" -m vnet cni install --dir "$HOST$CNI_BIN_DIR" \
    --python "$VNET_HOME/$id/bin/$python" --package-dir "$VNET_HOME/$id/$site"

answer=$(export CNI_COMMAND=VERSION VNET_CNI_SERVER=0; on_node "$CNI_BIN_DIR/vnet" </dev/null)
[ -z "$answer" ] || say "$CNI_BIN_DIR/vnet on the node answers VERSION: $answer"

for d in "$home"/*; do
    [ -e "$d/.vnet-build" ] || continue   # not a build of this installer's
    n=${d##*/}
    if [ "$n" != "$id" ] && [ "$n" != "$previous" ]; then
        rm -rf "$d"
        say "removed the old build $VNET_HOME/$n"
    fi
done
