#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The module's DKMS source tree, from a tcptrace checkout.  The one place
# that knows which files DKMS needs and that the version is the VERSION
# file's: used by `make dkms-install` and by debian/rules.
#
#   dkms-source.sh version            print the version (from VERSION)
#   dkms-source.sh conf               print dkms.conf, PACKAGE_VERSION set
#                                     from VERSION
#   dkms-source.sh tree DEST          copy the module sources (Kbuild,
#                                     VERSION, module/*.[ch],
#                                     module/uapi/*.h) into DEST and write
#                                     DEST/dkms.conf
#   dkms-source.sh tree --no-conf DEST     the same, without dkms.conf
#
# Run from anywhere: the tree is the one this script lives in.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)

die() {
	echo "dkms-source.sh: $*" >&2
	exit 1
}

version() {
	v=$(tr -d ' \t\n' <"$top/VERSION")
	# what dkms, dpkg and the module's MODULE_VERSION all accept
	echo "$v" | grep -Eq '^[0-9][0-9A-Za-z.+~]*$' ||
		die "VERSION '$v' is not a version"
	echo "$v"
}

conf() {
	v=$(version)
	grep -q '^PACKAGE_VERSION=' "$top/dkms.conf" ||
		die "dkms.conf has no PACKAGE_VERSION line"
	sed "s/^PACKAGE_VERSION=.*/PACKAGE_VERSION=\"$v\"/" "$top/dkms.conf"
}

tree() {
	withconf=1
	if [ "${1:-}" = --no-conf ]; then
		withconf=0
		shift
	fi
	[ $# -eq 1 ] || die "usage: dkms-source.sh tree [--no-conf] DEST"
	dest=$1
	mkdir -p "$dest/module/uapi"
	cp "$top/Kbuild" "$top/VERSION" "$dest/"
	cp "$top"/module/*.c "$top"/module/*.h "$top"/module/compat.mk "$dest/module/"
	cp "$top"/module/uapi/*.h "$dest/module/uapi/"
	chmod -R u=rwX,go=rX "$dest"
	if [ "$withconf" = 1 ]; then
		conf >"$dest/dkms.conf"
		chmod 644 "$dest/dkms.conf"
	fi
}

case "${1:-}" in
version) version ;;
conf) conf ;;
tree) shift; tree "$@" ;;
*) die "usage: dkms-source.sh version | conf | tree [--no-conf] DEST" ;;
esac
