#!/usr/bin/env bash
# Build a base image equivalent to python:3.11-slim from Debian packages, for hosts that cannot
# pull images (CI, air-gapped builders): debootstrap a minimal Debian, add Python, and
# `docker import` the tree.  Only Debian's package mirror is needed.
#
#   deploy/docker/debian-base.sh [TAG]        (as root; default TAG below)
#   docker build --build-arg BASE=TAG -t localgov-aggregator .
#
# Environment: SUITE (default bookworm, whose python3 is 3.11), MIRROR (default deb.debian.org).
set -euo pipefail

TAG=${1:-localgov-aggregator/python-base:bookworm}
SUITE=${SUITE:-bookworm}
MIRROR=${MIRROR:-http://deb.debian.org/debian}

if [ "$(id -u)" -ne 0 ]; then
  echo "debian-base.sh: debootstrap needs root" >&2
  exit 2
fi
for tool in debootstrap docker; do
  command -v "$tool" >/dev/null || { echo "debian-base.sh: $tool is not installed" >&2; exit 2; }
done

ROOT=$(mktemp -d /tmp/aggregator-base.XXXXXX)
trap 'rm -rf "$ROOT"' EXIT

# minbase: apt, dpkg and essentials only; the packages below are what python:slim ships
debootstrap --variant=minbase \
  --include=python3,python3-venv,python3-pip,ca-certificates,tzdata,netbase \
  "$SUITE" "$ROOT" "$MIRROR"

# an image has no use for package lists, caches or the build host's name resolution
chroot "$ROOT" apt-get clean
rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/*.bin "$ROOT"/tmp/* \
  "$ROOT"/etc/hostname "$ROOT"/etc/resolv.conf
# `python` as the official image spells it, so the Dockerfile works on either base
ln -sf /usr/bin/python3 "$ROOT"/usr/local/bin/python

tar --numeric-owner -C "$ROOT" -c . | docker import \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["python3"]' \
  - "$TAG"
echo "$TAG"
