#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install (idempotently, non-interactively) what packaging needs on a
# Debian 12 host:
#
#   packaging/deps.sh build    building the .debs (`make deb`): debhelper,
#                              dh-dkms, ... (debian/control's Build-Depends
#                              and what debian/rules calls)
#   packaging/deps.sh dkms     `make dkms-install`: dkms and a compiler
#   packaging/deps.sh lint     `make deb-lintian`: lintian
#   packaging/deps.sh test     selftests/packaging: all of the above, plus
#                              udev (udevadm, udevd in the guest) and man-db
#
# Fast path: one dpkg-query when everything is installed.  Otherwise one
# `apt-get update` and one `apt-get install --no-install-recommends`.
set -euo pipefail

BUILD=(dpkg-dev debhelper dh-dkms build-essential python3)
DKMS=(dkms kmod make gcc)
LINT=(lintian)
TEST=(lintian udev python3 python3-jsonschema man-db)

case "${1:-}" in
build) PACKAGES=("${BUILD[@]}") ;;
dkms) PACKAGES=("${DKMS[@]}") ;;
lint) PACKAGES=("${LINT[@]}") ;;
test) PACKAGES=("${BUILD[@]}" "${DKMS[@]}" "${TEST[@]}") ;;
*)
	echo "usage: packaging/deps.sh build|dkms|lint|test" >&2
	exit 2
	;;
esac

die() {
	echo "packaging/deps.sh: ERROR: $*" >&2
	exit 1
}

missing() {
	local status p
	status=$(dpkg-query -W -f='${Package} ${Status}\n' "${PACKAGES[@]}" 2>/dev/null || true)
	for p in "${PACKAGES[@]}"; do
		grep -qE "^${p//+/\\+} install ok installed$" <<<"$status" || echo "$p"
	done | sort -u
}

command -v dpkg-query >/dev/null || die "not a Debian host (no dpkg-query)"
mapfile -t todo < <(missing)
[ "${#todo[@]}" -eq 0 ] && exit 0

echo "packaging/deps.sh: installing: ${todo[*]}" >&2
[ "$(id -u)" -eq 0 ] || die "need root to install: ${todo[*]}"
export DEBIAN_FRONTEND=noninteractive
APT=(apt-get -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
"${APT[@]}" update </dev/null >&2 || die "apt-get update failed"
"${APT[@]}" install --no-install-recommends "${todo[@]}" </dev/null >&2 ||
	die "apt-get install failed: ${todo[*]}"
mapfile -t still < <(missing)
[ "${#still[@]}" -eq 0 ] || die "still missing after apt-get: ${still[*]}"
