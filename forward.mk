# The relay between servers (included by the Makefile: `include forward.mk`).
#   make forward-test     two sandbox servers (ports 3327, 3328), the tests of
#                         cmd/queue-forward and the client examples, then stops them
#   make forward-measure  forwarding rate on the same two servers
#   make forward          builds build/queue-forward
# See docs/SCALING.md.
.PHONY: forward forward-test forward-measure

forward:
	@go build -o $(ROOT)/build/queue-forward ./cmd/queue-forward

forward-test: build
	@scripts/forward-test.sh test

forward-measure: build
	@scripts/forward-test.sh measure $(FWD_ROWS)
