# SPDX-License-Identifier: GPL-2.0
# Packaging targets, included by the top-level Makefile:
#
#   make deb            tcptrace-dkms and tcpwhy .debs (and the source
#                       package) in build/deb/, built in a temporary copy of
#                       the tree; installs the build dependencies
#   make deb-lintian    lintian on build/deb/ (fails on errors)
#   sudo make dkms-install   this checkout's module into DKMS, built and
#                       installed for every supported installed kernel
#   sudo make dkms-remove    undo dkms-install
#
# See Documentation/operating.rst.

.PHONY: deb deb-lintian dkms-install dkms-remove

deb:
	packaging/build-deb.sh

deb-lintian:
	packaging/deps.sh lint
	lintian --fail-on error --display-info build/deb/tcpwhy_*.changes

dkms-install:
	packaging/dkms-checkout.sh install

dkms-remove:
	packaging/dkms-checkout.sh remove
