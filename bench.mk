# bench.mk — the comparative benchmark (docs/BENCHMARKS.md), included by the
# top-level Makefile; also usable alone: make -f bench.mk bench-quick
#
#   make bench        full matrix, under 15 minutes; results in bench/results/
#   make bench-quick  100-byte messages, 1 and 64 connections (outbox 1, 16, 64;
#                     txconsume 1, 16), about 2 minutes
#   make bench-smoke  seconds, one connection, tiny counts: keeps the harness
#                     working (part of make test); its results go to build/
#
# Each target starts what it needs (sandbox server with the queue engine, or
# a plain MariaDB when there is none; PostgreSQL and Redis under var/,
# installed from Debian's packages if missing) and stops what it started.
# BENCH_ARGS passes extra options, e.g. BENCH_ARGS='--repeat 3 --systems queue,redis'.

BENCH_GO      ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
BENCH_BIN     ?= build/queue-bench
BENCH_ARGS    ?=
BENCH_RUN      = scripts/bench-services.sh run $(BENCH_BIN)

.PHONY: bench bench-quick bench-smoke bench-build

bench-build:
	@mkdir -p $(dir $(BENCH_BIN))
	$(BENCH_GO) build -o $(BENCH_BIN) ./cmd/queue-bench

bench: bench-build
	$(BENCH_RUN) --out bench/results $(BENCH_ARGS)

bench-quick: bench-build
	$(BENCH_RUN) --quick --out bench/results $(BENCH_ARGS)

bench-smoke: bench-build
	$(BENCH_RUN) --smoke --out build/bench-smoke $(BENCH_ARGS) >/dev/null
