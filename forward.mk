# The relay between servers (included by the Makefile: `include forward.mk`).
#   make forward-test     two sandbox servers (ports 3327, 3328), the tests of
#                         cmd/queue-forward and the client examples, then stops them
#   make forward-measure  forwarding rate on the same two servers
#   make forward          builds build/queue-forward
#   make failover-test    primary -> replica failover (ports 3341, 3342)
#   make spider-test      producers sharded through Spider (ports 3351-3353)
#   make spider-measure   Spider front against INSERTs straight to the backends
# See docs/SCALING.md.
.PHONY: forward forward-test forward-measure

forward:
	@go build -o $(ROOT)/build/queue-forward ./cmd/queue-forward

forward-test: build
	@scripts/forward-test.sh test

forward-measure: build
	@scripts/forward-test.sh measure $(FWD_ROWS)

# A primary -> replica pair with queue tables (ports 3341, 3342): a replica
# that mirrors the queue (consumers with client.Consumer.LogRemovals), a
# failover by kill -9 of the primary, and the same without logged removals
# (docs/SCALING.md).
.PHONY: failover-test
failover-test: build
	@scripts/failover-test.sh

# Producers sharded through Spider (ports 3351-3353): a Spider table on a
# front server partitioned over queue tables on two backends; the measure
# compares INSERTs through the front with INSERTs sent straight to the
# backends (SPIDER_ROWS, default 20000).
.PHONY: spider-test spider-measure
spider-test: build
	@scripts/spider-test.sh test

spider-measure: build
	@scripts/spider-test.sh measure $(SPIDER_ROWS)
