# Operations: monitoring, backup and the Debian package (included by the
# Makefile: `include ops.mk`; docs/OPERATIONS.md).
#   make exporter-test  Debian's prometheus-mysqld-exporter scrapes a sandbox
#                       server (ports 3371, 9105): the Queue_ status variables
#   make backup-test    hot backup with scripts/queue-backup.sh while producers
#                       and consumers run, restored into a second server (3372, 3373)
#   make deb            build/mariadb-plugin-queue_<version>_<arch>.deb
#   make deb-test       installs the package into the system server (as root),
#                       remove and purge; leaves the server stopped
.PHONY: exporter-test backup-test deb deb-test

exporter-test: build
	@scripts/exporter-test.sh

backup-test: build
	@scripts/backup-test.sh

deb: build
	@scripts/deb.sh

deb-test: build
	@scripts/deb-test.sh
