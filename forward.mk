# The relay between servers (included by the Makefile: `include forward.mk`).
#   make forward-test     two sandbox servers (ports 3327, 3328), the tests of
#                         cmd/queue-forward and the client examples, then stops them
#   make forward-measure  forwarding rate on the same two servers
#   make forward          builds build/queue-forward
#   make failover-test    primary -> replica failover (ports 3341, 3342)
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
