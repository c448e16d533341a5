package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Scenario names.
const (
	scEnqueue = "enqueue"
	scConsume = "consume"
	scMixed   = "mixed"
	scLatency = "latency"
	// outbox: per transaction one InnoDB business row and one message
	// (sys_outbox.go); producers only.
	scOutbox = "outbox"
	// txconsume: consume with the processing (an InnoDB UPDATE) in the
	// removal's transaction, against autocommit (sys_txconsume.go);
	// consumers of a pre-filled queue.
	scTxConsume = "txconsume"
)

// minWindowShare: a consume step that drains its pre-filled queue is
// measured over its whole run when its measured window delivered fewer
// than 1/minWindowShare of the pre-filled messages.
const minWindowShare = 10

// A verifier checks, after a step's delivery check, what else the system
// promises (an order for every message; one update per delivery).
type verifier interface {
	Verify(ctx context.Context, consumed, remaining []uint64) error
}

// timing is how long a throughput step warms up and then measures.
type timing struct {
	Warmup   time.Duration
	Duration time.Duration
}

// Result is one measured step.
type Result struct {
	Scenario string
	System   string
	Conns    int // connections used (producers + consumers)
	Size     int // message size in bytes
	Rep      int

	Rate    float64 // the headline figure: messages/s (enqueued, or delivered)
	EnqRate float64 // mixed: enqueued/s
	DeqRate float64 // mixed: delivered/s
	Drained bool    // consume: the pre-filled queue ran empty before the deadline

	Latency []time.Duration // latency: one sample per message, sorted

	// Costs on the MariaDB server per message of the measured window
	// (nil for systems outside it).
	Cost *costs

	Check   string // "ok ...", "FAIL: ...", or "n/a ..."
	Failed  bool   // lost/duplicated messages or an error during the step
	Err     string // first error, if any
	Elapsed time.Duration
}

// counter counts completed messages and remembers when the last one
// completed (nanoseconds since the step's start).
type counter struct {
	n    atomic.Int64
	last atomic.Int64
}

func (c *counter) done(k int, since time.Time) {
	c.n.Add(int64(k))
	c.last.Store(int64(time.Since(since)))
}

// errOnce keeps the first error of a step's workers.
type errOnce struct {
	mu  sync.Mutex // guards err
	err error
}

func (e *errOnce) set(err error) {
	if err == nil {
		return
	}
	e.mu.Lock()
	if e.err == nil {
		e.err = err
	}
	e.mu.Unlock()
}

func (e *errOnce) get() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

// idSource hands out unique message ids for one step.
type idSource struct{ next atomic.Uint64 }

func (s *idSource) take() uint64 { return s.next.Add(1) }

// runner runs the steps of one benchmark run.
type runner struct {
	epoch    time.Time // send times in payloads are relative to this
	progress *progress
	prefill  map[int]int // message size -> pre-filled messages for consume
	latency  latencyPlan
}

type latencyPlan struct {
	Samples   int
	Consumers int
	Gap       time.Duration // pause between messages, so consumers are idle
	// For polling systems Jitter is added to Gap at random (uniform in
	// [0, Jitter]), so that a message arrives at a random moment of a
	// poller's sleep, as in real use, rather than in step with it. Set to
	// the poll interval. Blocking waits have no phase to fall in step with.
	Jitter time.Duration
}

func (r *runner) payload(size int, id uint64) []byte {
	b := make([]byte, size)
	encodeMessage(b, id, int64(time.Since(r.epoch)))
	return b
}

// openWorkers opens n producers and m consumers, in parallel (opening 64
// PostgreSQL backends one after the other takes a while).
func openWorkers(ctx context.Context, sys System, n, m int) ([]Producer, []Consumer, error) {
	prods := make([]Producer, n)
	cons := make([]Consumer, m)
	var wg sync.WaitGroup
	var first errOnce
	sem := make(chan struct{}, 8)
	for i := 0; i < n+m; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			var err error
			if i < n {
				prods[i], err = sys.NewProducer(ctx)
			} else {
				cons[i-n], err = sys.NewConsumer(ctx)
			}
			first.set(err)
		}(i)
	}
	wg.Wait()
	if err := first.get(); err != nil {
		closeWorkers(prods, cons)
		return nil, nil, fmt.Errorf("opening connections: %w", err)
	}
	return prods, cons, nil
}

func closeWorkers(prods []Producer, cons []Consumer) error {
	var errs []error
	for _, p := range prods {
		if p != nil {
			errs = append(errs, p.Close())
		}
	}
	for _, c := range cons {
		if c != nil {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}

// throughput runs enqueue, consume or mixed for one system, connection
// count and message size.
func (r *runner) throughput(ctx context.Context, sys System, scenario string, conns, size int, t timing) (res Result) {
	res = Result{Scenario: scenario, System: sys.Name(), Conns: conns, Size: size}
	start := time.Now()
	defer func() { res.Elapsed = time.Since(start) }()
	fail := func(err error) Result {
		res.Failed, res.Err, res.Check = true, err.Error(), "FAIL: "+err.Error()
		return res
	}

	if err := sys.Reset(ctx); err != nil {
		return fail(fmt.Errorf("reset: %w", err))
	}
	nProd, nCons := 0, 0
	switch scenario {
	case scEnqueue, scOutbox:
		nProd = conns
	case scConsume, scTxConsume:
		nCons = conns
	case scMixed:
		// Half producers, half consumers; "1 connection" means one of
		// each (the step keeps the requested count as its label).
		nProd = max(1, conns/2)
		nCons = max(1, conns-nProd)
	}

	var ids idSource
	var expected []uint64
	prefills := scenario == scConsume || scenario == scTxConsume
	if prefills && !sys.Bound() {
		n := r.prefill[size]
		r.progress.status("pre-filling %d messages", n)
		payloads := make([][]byte, n)
		expected = make([]uint64, n)
		for i := range payloads {
			id := ids.take()
			payloads[i] = r.payload(size, id)
			expected[i] = id
		}
		if err := sys.Prefill(ctx, payloads); err != nil {
			return fail(fmt.Errorf("pre-fill: %w", err))
		}
	}

	prods, cons, err := openWorkers(ctx, sys, nProd, nCons)
	if err != nil {
		return fail(err)
	}

	var stop atomic.Bool
	var enq, deq counter
	var errs errOnce
	prodLedgers := make([]*ledger, nProd)
	consLedgers := make([]*ledger, nCons)
	var wg sync.WaitGroup
	headline := &deq
	if nCons == 0 {
		headline = &enq
	}
	// Server costs are sampled at the start of the measured window (first
	// here, in case the step ends within its warm-up, then again when the
	// warm-up is over) and at its end, and divided by the headline count
	// of messages in between.
	cw := newCostWindow(sys, headline.n.Load)
	cw.start(ctx)
	t0 := time.Now()
	for i, p := range prods {
		l := &ledger{}
		prodLedgers[i] = l
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, size)
			for !stop.Load() {
				id := ids.take()
				encodeMessage(buf, id, int64(time.Since(r.epoch)))
				if err := p.Put(buf); err != nil {
					errs.set(fmt.Errorf("enqueue: %w", err))
					return
				}
				l.add(id)
				enq.done(1, t0)
			}
		}()
	}
	for i, c := range cons {
		l := &ledger{}
		consLedgers[i] = l
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				msgs, err := c.Get()
				if err != nil {
					errs.set(fmt.Errorf("consume: %w", err))
					return
				}
				if len(msgs) == 0 {
					continue
				}
				if !sys.Bound() {
					for _, m := range msgs {
						l.add(messageID(m))
					}
				}
				deq.done(len(msgs), t0)
			}
		}()
	}

	// Measure: counts at the end of the warm-up and at the deadline. A
	// consume-only step also ends when the pre-filled queue is empty; its
	// rate is then taken up to the last delivery.
	prefilled := int64(len(expected))
	drained := func() bool { return prefills && prefilled > 0 && deq.n.Load() >= prefilled }
	warmEnd := t0.Add(t.Warmup)
	deadline := warmEnd.Add(t.Duration)
	var enqWarm, deqWarm int64
	warmed := false
	tick := time.NewTicker(100 * time.Millisecond)
	for now := range tick.C {
		if errs.get() != nil || drained() || now.After(deadline) || ctx.Err() != nil {
			break
		}
		if !warmed && now.After(warmEnd) {
			cw.start(ctx)
			enqWarm, deqWarm, warmed = enq.n.Load(), deq.n.Load(), true
			warmEnd = now
			deadline = now.Add(t.Duration)
		}
		r.progress.rate(headline.n.Load(), now.Sub(t0))
	}
	tick.Stop()
	// A step that drained during its warm-up, or so soon after it that
	// its window holds only the last few messages (their rate says how
	// the queue's tail was taken, not the step's throughput), is measured
	// over the whole run, warm-up included.
	whole := drained() && (!warmed || deq.n.Load()-deqWarm < prefilled/minWindowShare)
	res.Cost = cw.end(ctx, whole)
	end := time.Now()
	enqEnd, deqEnd := enq.n.Load(), deq.n.Load()
	stop.Store(true)
	wg.Wait()
	if err := closeWorkers(prods, cons); err != nil {
		errs.set(err)
	}

	if drained() {
		res.Drained = true
		end = t0.Add(time.Duration(deq.last.Load()))
		deqEnd = deq.n.Load()
	}
	if whole || !end.After(warmEnd) {
		enqWarm, deqWarm, warmEnd = 0, 0, t0
	}
	secs := end.Sub(warmEnd).Seconds()
	if secs > 0 {
		res.EnqRate = float64(enqEnd-enqWarm) / secs
		res.DeqRate = float64(deqEnd-deqWarm) / secs
	}
	res.Rate = res.DeqRate
	if nCons == 0 {
		res.Rate = res.EnqRate
	}

	if err := errs.get(); err != nil {
		res.Failed, res.Err = true, err.Error()
	}
	if sys.Bound() {
		res.Check = "n/a (stores nothing)"
		if res.Failed {
			res.Check = "FAIL: " + res.Err
		}
		return res
	}
	r.progress.status("checking delivery")
	remaining, err := sys.Remaining(ctx)
	if err != nil {
		return fail(fmt.Errorf("reading remaining messages: %w", err))
	}
	if !prefills {
		expected = mergeLedgers(prodLedgers)
	}
	consumed := mergeLedgers(consLedgers)
	res.setCheck(checkDelivery(expected, consumed, remaining))
	if v, ok := sys.(verifier); ok && !res.Failed {
		if err := v.Verify(ctx, consumed, remaining); err != nil {
			res.Failed, res.Check = true, "FAIL: "+err.Error()
		}
	}
	return res
}

// setCheck records the delivery check; an error during the step fails the
// step even when every message was accounted for.
func (res *Result) setCheck(chk deliveryCheck) {
	switch {
	case res.Err != "":
		res.Failed = true
		res.Check = "FAIL: error: " + res.Err + "; delivery " + chk.String()
	case !chk.OK():
		res.Failed = true
		res.Check = chk.String()
	default:
		res.Check = chk.String()
	}
}

// latencyStep measures delivery latency with idle consumers: consumers
// wait (blocking, or polling at the configured interval), one producer
// sends one message at a time, and a message's latency is the time from
// just before its enqueue statement to its arrival at a consumer.
func (r *runner) latencyStep(ctx context.Context, sys System, size int) (res Result) {
	res = Result{Scenario: scLatency, System: sys.Name(), Conns: r.latency.Consumers + 1, Size: size}
	start := time.Now()
	defer func() { res.Elapsed = time.Since(start) }()
	fail := func(err error) Result {
		res.Failed, res.Err, res.Check = true, err.Error(), "FAIL: "+err.Error()
		return res
	}
	if sys.Bound() {
		res.Check = "n/a (stores nothing)"
		return res
	}
	if err := sys.Reset(ctx); err != nil {
		return fail(fmt.Errorf("reset: %w", err))
	}
	prods, cons, err := openWorkers(ctx, sys, 1, r.latency.Consumers)
	if err != nil {
		return fail(err)
	}
	arrived := make(chan [][]byte, 64)
	var stop atomic.Bool
	var errs errOnce
	var wg sync.WaitGroup
	for _, c := range cons {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				msgs, err := c.Get()
				if err != nil {
					errs.set(fmt.Errorf("consume: %w", err))
					return
				}
				if len(msgs) > 0 {
					arrived <- msgs
				}
			}
		}()
	}
	// Let every consumer reach its wait before the first message.
	time.Sleep(300 * time.Millisecond)

	var sent, got []uint64
	buf := make([]byte, size)
	var ids idSource
	cw := newCostWindow(sys, func() int64 { return int64(len(sent)) })
	cw.start(ctx)
	t0 := time.Now()
	for i := 0; i < r.latency.Samples && errs.get() == nil && ctx.Err() == nil; i++ {
		id := ids.take()
		encodeMessage(buf, id, int64(time.Since(r.epoch)))
		if err := prods[0].Put(buf); err != nil {
			errs.set(fmt.Errorf("enqueue: %w", err))
			break
		}
		sent = append(sent, id)
		select {
		case msgs := <-arrived:
			now := int64(time.Since(r.epoch))
			for _, m := range msgs {
				mid, at, _ := decodeMessage(m)
				got = append(got, mid)
				res.Latency = append(res.Latency, time.Duration(now-at))
			}
		case <-time.After(10 * time.Second):
			errs.set(fmt.Errorf("message %d not delivered within 10 s", id))
		}
		r.progress.rate(int64(i+1), time.Since(t0))
		gap := r.latency.Gap
		if sys.Polls() {
			gap += rand.N(r.latency.Jitter + 1)
		}
		time.Sleep(gap)
	}
	res.Cost = cw.end(ctx, false)
	stop.Store(true)
	wg.Wait()
	close(arrived)
	for msgs := range arrived {
		for _, m := range msgs {
			got = append(got, messageID(m))
		}
	}
	if err := closeWorkers(prods, cons); err != nil {
		errs.set(err)
	}
	sortDurations(res.Latency)
	if err := errs.get(); err != nil {
		res.Failed, res.Err = true, err.Error()
	}
	remaining, err := sys.Remaining(ctx)
	if err != nil {
		return fail(fmt.Errorf("reading remaining messages: %w", err))
	}
	res.setCheck(checkDelivery(sent, got, remaining))
	return res
}
