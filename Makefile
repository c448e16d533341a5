# queue: a durable message queue as a MariaDB storage engine.
#   make run      set up, build, start the sandbox server, run a demo
#   make test     set up, build, run every test (go, C ABI, ABI check, MTR,
#                 stress, relay, replica failover, Spider, monitoring, backup,
#                 Debian package)
#   make deb      the Debian package (ops.mk)
# See README.md.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)

ROOT       := $(abspath .)
PLUGIN_DIR := $(ROOT)/build/plugin
CMAKE_DIR  := $(ROOT)/build/cmake
# Where scripts/setup.sh keeps the configured MariaDB tree.
export QUEUE_CACHE ?= $(HOME)/.cache/queue

.PHONY: all setup build test go-test abi-check mtr run demo sandbox-start sandbox-stop \
        sandbox-status sql install uninstall clean queue-check

all: build

setup:
	@scripts/setup.sh

build: setup
	@cmake -S . -B $(CMAKE_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DQUEUE_MARIADB_ROOT=$(QUEUE_CACHE)/current >/dev/null
	@cmake --build $(CMAKE_DIR) -j2 -- --no-print-directory

# The offline table checker (docs/OPERATIONS.md): build/queue-check.
queue-check:
	@go build -o build/queue-check ./cmd/queue-check

test: build
	@scripts/test.sh

go-test:
	go test -race ./...

abi-check: build
	@scripts/abi-check.sh

mtr: build
	@scripts/mtr.sh $(MTR_ARGS)

run: build sandbox-start demo
	@echo
	@echo "The sandbox server keeps running. Connect with:"
	@echo "  make sql                     (or: mariadb -uroot -S var/sandbox/mysqld.sock test)"
	@echo "  mariadb -uroot -h127.0.0.1 -P3307 test"
	@echo "Stop it with: make sandbox-stop"

demo:
	@scripts/demo.sh

sandbox-start: build
	@scripts/sandbox.sh start

sandbox-stop:
	@scripts/sandbox.sh stop

sandbox-status:
	@scripts/sandbox.sh status

sql:
	@scripts/sandbox.sh sql

install: build
	@scripts/install.sh install

uninstall:
	@scripts/install.sh uninstall

clean:
	rm -rf build

# The comparative benchmark (bench.mk: bench, bench-quick, bench-smoke;
# docs/BENCHMARKS.md) and the stress test of the SQL functions (stress.mk:
# stress, stress-full, stress-measure).
include bench.mk
include stress.mk
include forward.mk
include ops.mk
