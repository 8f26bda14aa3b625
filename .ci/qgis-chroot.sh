#!/usr/bin/env bash
# Runs a command (default: the QGIS, qgis_process and installer tests) with another QGIS from the Debian
# package registry, inside a Debian root file system:
#   .ci/qgis-chroot.sh 3.40 [COMMAND...]   Debian 13 "trixie": QGIS 3.40 LTR, Python 3.13, numpy 2
#   .ci/qgis-chroot.sh 3.44 [COMMAND...]   Debian unstable "sid": QGIS 3.44, Python 3.14, numpy 2
# `make test-qgis VERSION=3.40` calls it. The root file system is made once with debootstrap and kept in
# $ROOTFS_CACHE (default ~/.cache/seamless-segmentation/rootfs/SUITE); the checkout is bind-mounted at /src
# and the project's own set-up (.ci/setup.sh, which installs QGIS there) makes a virtual environment at
# /opt/seamless/venv inside it. Every mount is undone when the script ends, also on failure.
# Needs root (debootstrap, mount, chroot) and the Debian and Python package registries.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
VERSION=${1:?usage: .ci/qgis-chroot.sh 3.40|3.44 [COMMAND...]}
shift
case "$VERSION" in
  3.40) SUITE=trixie ;;
  3.44) SUITE=sid ;;
  *) echo "qgis-chroot: VERSION must be 3.40 (Debian 13) or 3.44 (Debian unstable), not '$VERSION'" >&2; exit 2 ;;
esac
[ "$(id -u)" = 0 ] || { echo "qgis-chroot: needs root (debootstrap, mount and chroot)" >&2; exit 1; }
CACHE=${ROOTFS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/seamless-segmentation/rootfs}
ROOT=$CACHE/$SUITE
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
VENV=/opt/seamless/venv
# Everything but training (which needs torch, several GB there, and is QGIS-independent): TESTS=... for others.
TESTS=${TESTS:-tests --ignore=tests/training}

command -v debootstrap >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap; }
mkdir -p "$CACHE"
exec 9>"$CACHE/$SUITE.lock"
flock 9  # one run per root file system at a time: they share its mount points

if [ ! -f "$ROOT/.seamless-ready" ]; then
  echo "qgis-chroot: making the $SUITE root file system in $ROOT (debootstrap, once)"
  rm -rf "$ROOT.partial"
  debootstrap --variant=minbase --include=ca-certificates,make,git "$SUITE" "$ROOT.partial" "$MIRROR"
  if [ "$SUITE" = sid ]; then
    # Unstable's Release file is valid for a week only: a mirror or snapshot older than that would stop apt.
    echo 'Acquire::Check-Valid-Until "false";' > "$ROOT.partial/etc/apt/apt.conf.d/99seamless-snapshot"
  fi
  rm -rf "$ROOT"
  mv "$ROOT.partial" "$ROOT"
  touch "$ROOT/.seamless-ready"
fi
# The host's name resolution (its own name too: torch.distributed looks it up) and certificate bundle (it may
# hold a proxy's certificate): apt, pip and the tests need them.
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
cp /etc/hosts "$ROOT/etc/hosts"
cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/ca-certificates.crt"

mounts=()
cleanup() {
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    umount -R "${mounts[i]}" 2>/dev/null || umount -R -l "${mounts[i]}" || echo "qgis-chroot: could not unmount ${mounts[i]}" >&2
  done
}
trap cleanup EXIT
mount_into() {  # mount_into TARGET MOUNT-ARGUMENTS...
  mkdir -p "$ROOT$1"
  mount "${@:2}" "$ROOT$1"
  mounts+=("$ROOT$1")
}
mount_into /proc -t proc proc
mount_into /sys -t sysfs sysfs
mount_into /dev --rbind /dev
mount --make-rslave "$ROOT/dev"
mount_into /src --bind "$REPO"
# A git worktree keeps its repository elsewhere: mount that at the same path, for git inside (make package).
common=$(git -C "$REPO" rev-parse --path-format=absolute --git-common-dir 2>/dev/null || true)
if [ -n "$common" ] && [ -d "$common" ] && [ "${common#"$REPO"/}" = "$common" ]; then
  mount_into "$common" --bind "$common"
fi

if [ $# -eq 0 ]; then
  set -- bash -c "VENV=$VENV bash .ci/setup.sh && $VENV/bin/python -m pytest -p no:cacheprovider $TESTS"
fi
echo "qgis-chroot: QGIS $VERSION ($SUITE) in $ROOT: $*"
chroot "$ROOT" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  QT_QPA_PLATFORM=offscreen PYTHONDONTWRITEBYTECODE=1 XDG_RUNTIME_DIR=/tmp/runtime-root CI="${CI:-}" \
  bash -c 'mkdir -p -m 700 /tmp/runtime-root && cd /src && exec "$@"' bash "$@"
