# Multi-process stress test of the SQL functions through the sandbox server
# (included by the Makefile: `include stress.mk`).
#   make stress          quick exactly-once run, then a kill -9 run (< 1 min each)
#   make stress-full     longer runs
#   make stress-measure  latency and throughput numbers
#   make stress-cycles   CYCLES (default 100) kill -9 runs of 4 producers and 4
#                        consumers, alternating the two consume forms
#   make stress-txn      producers and consumers inside transactions that commit
#                        or roll back (savepoints, XA, autocommit=0); checks that
#                        committed messages are consumed exactly once by committed
#                        consumes and rolled-back ones never delivered
#   make txn-crash-test  orders (InnoDB) and their messages (queue) written and
#                        processed in transactions across TXN_CYCLES kill -9
#                        cycles, without and with log_bin (scripts/txn-crash-test.sh)
# The sandbox is started (or reused) by scripts/sandbox.sh; its port is
# QUEUE_SANDBOX_PORT (default 3307), its directory QUEUE_SANDBOX_DIR (default
# var/sandbox).
STRESS_PORT ?= $(or $(QUEUE_SANDBOX_PORT),3307)
STRESS_DSN  ?= root@tcp(127.0.0.1:$(STRESS_PORT))/test
STRESS_BIN  := $(ROOT)/build/queue-stress
STRESS_BOX  ?= $(or $(QUEUE_SANDBOX_DIR),$(ROOT)/var/sandbox)
STRESS_ARGS := -dsn '$(STRESS_DSN)' -pidfile $(STRESS_BOX)/mysqld.pid \
               -restart 'QUEUE_SANDBOX_PORT=$(STRESS_PORT) $(ROOT)/scripts/sandbox.sh start'

.PHONY: stress stress-full stress-measure stress-cycles stress-bin stress-txn txn-crash-test

stress-bin:
	@go build -o $(STRESS_BIN) ./cmd/queue-stress

stress: build stress-bin
	@QUEUE_SANDBOX_PORT=$(STRESS_PORT) scripts/sandbox.sh start
	$(STRESS_BIN) $(STRESS_ARGS) -quick
	$(STRESS_BIN) $(STRESS_ARGS) -quick -crash
	$(STRESS_BIN) $(STRESS_ARGS) -quick -one-statement
	$(STRESS_BIN) $(STRESS_ARGS) -quick -crash -one-statement

stress-full: build stress-bin
	@QUEUE_SANDBOX_PORT=$(STRESS_PORT) scripts/sandbox.sh start
	$(STRESS_BIN) $(STRESS_ARGS) -producers 4 -consumers 8 -messages 50000
	$(STRESS_BIN) $(STRESS_ARGS) -producers 4 -consumers 8 -messages 50000 -crash

stress-measure: build stress-bin
	@QUEUE_SANDBOX_PORT=$(STRESS_PORT) scripts/sandbox.sh start
	$(STRESS_BIN) $(STRESS_ARGS) -measure

CYCLES ?= 100
stress-cycles: build stress-bin
	@QUEUE_SANDBOX_PORT=$(STRESS_PORT) scripts/sandbox.sh start
	@for i in $$(seq 1 $(CYCLES)); do \
	  form=; [ $$((i % 2)) = 0 ] && form=-one-statement; \
	  $(STRESS_BIN) $(STRESS_ARGS) -producers 4 -consumers 4 -messages 3000 -crash $$form || exit 1; \
	done; echo "stress-cycles: $(CYCLES) kill -9 cycles passed"

stress-txn: build stress-bin
	@QUEUE_SANDBOX_PORT=$(STRESS_PORT) scripts/sandbox.sh start
	$(STRESS_BIN) $(STRESS_ARGS) -txn -quick

TXN_CYCLES ?= 5
txn-crash-test: build stress-bin
	@scripts/txn-crash-test.sh $(TXN_CYCLES)
