#!/bin/sh
# make-prefix.sh PREFIX PIP-ARGS...
#
# Build a relocatable Python with vnet in it at PREFIX, from the CPython
# installed under SRC_PREFIX (default /usr/local, python:3.11-slim's): the
# interpreter, its shared library and standard library; vnet and its
# dependencies, installed by pip (PIP-ARGS: what to install, e.g. the
# source tree); and every shared library these load that is not part of
# glibc, copied into PREFIX/lib. Each ELF file of the interpreter gets a
# RUNPATH relative to itself ($ORIGIN), so the tree runs from wherever it
# is copied, on any Linux of the same architecture whose glibc is at least
# the build's. Needs patchelf and ldd. The last step proves it: every ELF
# file resolves inside PREFIX or to glibc, and the interpreter, started
# from PREFIX as the plugin starts it (-IS), imports what a CNI call needs.
# Last, PREFIX/BUILD_ID: vnet's version and a digest of the tree, the name of
# this build's directory on a node (install-on-node.sh).
set -eu

PREFIX=$(realpath -m "${1:?usage: make-prefix.sh PREFIX PIP-ARGS...}")
shift
SRC_PREFIX=${SRC_PREFIX:-/usr/local}
PY="$SRC_PREFIX/bin/python3"
V=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
LIB="$PREFIX/lib"
STDLIB="$LIB/python$V"
SITE="$STDLIB/site-packages"

# glibc's own libraries: the node has them (and they must match its ld.so)
GLIBC='^(linux-vdso|linux-gate|ld-linux[^ ]*|ld64|libc|libm|libmvec|libdl|libpthread|librt|libutil|libresolv|libanl|libnsl|libBrokenLocale)[.]so'

mkdir -p "$PREFIX/bin" "$LIB"
cp -L "$SRC_PREFIX/bin/python$V" "$PREFIX/bin/python$V"
ln -sf "python$V" "$PREFIX/bin/python3"
for f in "$SRC_PREFIX"/lib/libpython"$V"*.so*; do   # a shared build's (python:3.11-slim is one)
    [ -e "$f" ] && cp -a "$f" "$LIB/"
done
cp -a "$SRC_PREFIX/lib/python$V" "$LIB/"
# what a CNI plugin never runs; and nothing of the source's own site-packages
rm -rf "$STDLIB/test" "$STDLIB/idlelib" "$STDLIB/tkinter" "$STDLIB/turtledemo" "$STDLIB/ensurepip" \
       "$STDLIB"/lib-dynload/_tkinter* "$STDLIB"/config-* "$SITE"
mkdir -p "$SITE"

# --ignore-installed: every dependency into PREFIX, even one the source Python has
"$PY" -m pip install --no-cache-dir --disable-pip-version-check --no-warn-script-location --ignore-installed \
    --prefix "$PREFIX" "$@"
# the scripts pip wrote name the source Python, which the node does not have: only the interpreter stays
find "$PREFIX/bin" -mindepth 1 ! -name "python*" -delete

is_elf() { [ "$(head -c 4 "$1" 2>/dev/null | od -An -c | tr -d ' ')" = '177ELF' ]; }

elf_files() { find "$PREFIX" -type f \( -name '*.so' -o -name '*.so.*' -o -path "$PREFIX/bin/*" \) | sort; }

# "name path" for each library $1 needs from outside PREFIX that is not glibc's ("name not-found" if missing)
outside_deps() {
    ldd "$1" 2>/dev/null | awk -v prefix="$PREFIX/" -v glibc="$GLIBC" '
        $2 == "=>" && $3 == "not" { print $1, "not-found"; next }
        $2 == "=>" && $3 ~ /^\// { if (index($3, prefix) != 1 && $1 !~ glibc) print $1, $3 }'
}

relative_lib() { realpath --relative-to="$(dirname "$1")" "$LIB"; }

# the interpreter's own ELF files: their RUNPATH is PREFIX/lib, relative to each
elf_files | while read -r f; do
    case $f in "$SITE"/*) continue ;; esac
    is_elf "$f" && patchelf --set-rpath "\$ORIGIN/$(relative_lib "$f")" "$f"
done

# libraries from outside, copied in until nothing more is needed (a copied one may need another)
for pass in 1 2 3 4 5 6 7 8; do
    copied=0
    for f in $(elf_files); do
        is_elf "$f" || continue
        deps=$(outside_deps "$f")
        [ -n "$deps" ] || continue
        echo "$deps" | while read -r name path; do
            if [ "$path" = not-found ]; then
                echo "make-prefix: $f needs $name, which is not on this system" >&2
                exit 1
            fi
            [ -e "$LIB/$name" ] || cp -L "$path" "$LIB/$name"
        done
        case $f in
            "$SITE"/*) patchelf --add-rpath "\$ORIGIN/$(relative_lib "$f")" "$f" ;;   # a wheel's own RUNPATH stays
            *) patchelf --set-rpath "\$ORIGIN/$(relative_lib "$f")" "$f" ;;
        esac
        copied=1
    done
    [ "$copied" = 0 ] && break
done

# the proof: nothing resolves outside PREFIX but glibc, and the plugin's imports work from PREFIX
for f in $(elf_files); do
    is_elf "$f" || continue
    deps=$(outside_deps "$f")
    if [ -n "$deps" ]; then
        echo "make-prefix: $f still needs from outside $PREFIX: $deps" >&2
        exit 1
    fi
done
"$PREFIX/bin/python$V" -IS -c "
import sys
sys.path[:0] = ['$SITE']
import ctypes, vnet.cni.main, vnet.cni.commands, vnet.api, vnet.kernel.netns, vnet.topofile.loader, yaml
ctypes.CDLL(None)
assert sys.prefix == '$PREFIX', sys.prefix
print('make-prefix: vnet', vnet.__version__, 'on Python', sys.version.split()[0], 'in', sys.prefix)
"

version=$("$PREFIX/bin/python$V" -IS -c "import sys; sys.path[:0] = ['$SITE']; import vnet; print(vnet.__version__)")
digest=$(cd "$PREFIX" && find . -type f ! -name BUILD_ID | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-12)
echo "$version-$digest" > "$PREFIX/BUILD_ID"
echo "make-prefix: build $(cat "$PREFIX/BUILD_ID")"
