// Command queue-bench measures the queue engine side by side with what people
// would use instead: InnoDB with FOR UPDATE SKIP LOCKED, the BLACKHOLE engine
// (the SQL layer's own cost, an upper bound), PostgreSQL SKIP LOCKED, Redis
// LPUSH/BRPOP and the GET_LOCK polling pattern — same machine, same message
// size, same concurrency, durable settings, in one run.
//
// Scenarios: enqueue only, consume only (pre-filled), mixed (producers and
// consumers together), and delivery latency with idle consumers. Every step
// checks that each message was delivered exactly once; a step that loses or
// duplicates a message is reported as a failure and makes the exit status 1.
//
// Results go to stdout (Markdown) and to a directory under bench/results/
// (results.md, results.csv, PNG charts). Progress goes to stderr.
// See docs/BENCHMARKS.md.
package main
