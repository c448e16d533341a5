package main

import "context"

// A System is one way of running a queue: the queue engine, InnoDB with SKIP
// LOCKED, PostgreSQL, Redis, ... Methods other than the workers' are called
// from one goroutine at a time, between measurements.
type System interface {
	// Name is the short name used in tables, files and --systems.
	Name() string
	// Settings describes what was measured, including the durability
	// settings read back from the server (not just the ones requested).
	Settings() string
	// Bound reports whether the system is an upper bound that stores
	// nothing (BLACKHOLE): its consumers return placeholder messages and
	// delivery is not checked.
	Bound() bool
	// Polls reports whether consumers find work by polling (and thus
	// sleep between empty polls) rather than by a blocking wait.
	Polls() bool
	// Reset makes the queue exist and be empty.
	Reset(ctx context.Context) error
	// Prefill enqueues the given payloads quickly (batched); it is not
	// measured.
	Prefill(ctx context.Context, payloads [][]byte) error
	// NewProducer and NewConsumer open one connection each.
	NewProducer(ctx context.Context) (Producer, error)
	NewConsumer(ctx context.Context) (Consumer, error)
	// Remaining returns the ids of the messages still queued.
	Remaining(ctx context.Context) ([]uint64, error)
	// Close releases the system's administrative connections.
	Close() error
}

// A Producer enqueues on its own connection; one goroutine uses it.
type Producer interface {
	// Put returns once the message is durably enqueued.
	Put(payload []byte) error
	Close() error
}

// A Consumer dequeues on its own connection; one goroutine uses it.
type Consumer interface {
	// Get waits up to about a second and returns the messages it took
	// (durably removed from the queue, or owned such that the next Get or
	// Close removes them). An empty result means nothing arrived in time.
	Get() ([][]byte, error)
	// Close finishes the consumption of anything taken and disconnects.
	Close() error
}
