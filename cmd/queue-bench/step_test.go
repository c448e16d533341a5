package main

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// memSystem is an in-process queue for testing the runner. With lose set it
// drops every 7th enqueued message; with dup set it delivers every 5th
// message twice — the runner must report both.
type memSystem struct {
	mu    sync.Mutex // guards q and n
	q     [][]byte
	n     int
	lose  bool
	dup   bool
	bound bool
	// slowTail: each of the last slowTail messages takes 60 ms to get.
	slowTail int
}

func (s *memSystem) Name() string     { return "mem" }
func (s *memSystem) Settings() string { return "in memory" }
func (s *memSystem) Bound() bool      { return s.bound }
func (s *memSystem) Polls() bool      { return true }
func (s *memSystem) Close() error     { return nil }
func (s *memSystem) Reset(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.q, s.n = nil, 0
	return nil
}
func (s *memSystem) put(p []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	if s.lose && s.n%7 == 0 {
		return
	}
	s.q = append(s.q, append([]byte(nil), p...))
}
func (s *memSystem) Prefill(_ context.Context, ps [][]byte) error {
	for _, p := range ps {
		s.put(p)
	}
	return nil
}
func (s *memSystem) Remaining(context.Context) ([]uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []uint64
	for _, p := range s.q {
		ids = append(ids, messageID(p))
	}
	return ids, nil
}
func (s *memSystem) NewProducer(context.Context) (Producer, error) { return memProducer{s}, nil }
func (s *memSystem) NewConsumer(context.Context) (Consumer, error) { return memConsumer{s}, nil }

type memProducer struct{ s *memSystem }

func (p memProducer) Put(b []byte) error { time.Sleep(50 * time.Microsecond); p.s.put(b); return nil }
func (p memProducer) Close() error       { return nil }

type memConsumer struct{ s *memSystem }

func (c memConsumer) Get() ([][]byte, error) {
	if c.s.bound {
		return [][]byte{nil}, nil
	}
	return pollWait(time.Millisecond, func() ([][]byte, error) {
		c.s.mu.Lock()
		if len(c.s.q) > 0 && len(c.s.q) <= c.s.slowTail {
			c.s.mu.Unlock()
			time.Sleep(60 * time.Millisecond)
			c.s.mu.Lock()
		}
		defer c.s.mu.Unlock()
		if len(c.s.q) == 0 {
			return nil, nil
		}
		m := c.s.q[0]
		c.s.q = c.s.q[1:]
		if c.s.dup && messageID(m)%5 == 0 {
			return [][]byte{m, m}, nil
		}
		return [][]byte{m}, nil
	})
}
func (c memConsumer) Close() error { return nil }

func testRunner(t *testing.T) *runner {
	devnull, err := os.Open(os.DevNull)
	require.NoError(t, err)
	t.Cleanup(func() { devnull.Close() })
	return &runner{epoch: time.Now(), progress: newProgress(devnull, 1), prefill: map[int]int{100: 500},
		latency: latencyPlan{Samples: 20, Consumers: 2}}
}

var quickTiming = timing{Warmup: 50 * time.Millisecond, Duration: 200 * time.Millisecond}

func TestRunnerCountsAndChecksEveryScenario(t *testing.T) {
	r := testRunner(t)
	ctx := context.Background()
	for _, sc := range []string{scEnqueue, scConsume, scMixed} {
		res := r.throughput(ctx, &memSystem{}, sc, 2, 100, quickTiming)
		require.False(t, res.Failed, "%s: %s", sc, res.Check)
		require.Greater(t, res.Rate, 0.0, sc)
		require.Contains(t, res.Check, "ok (", sc)
	}
	res := r.throughput(ctx, &memSystem{}, scConsume, 4, 100, quickTiming)
	require.True(t, res.Drained, "500 messages drain quickly")
	require.Contains(t, res.Check, "500 produced = 500 consumed + 0 remaining")
}

// A queue that drains within the warm-up but for a slow last few messages
// is measured over the whole run: the window after the warm-up holds only
// the tail and would report a rate far below the step's.
func TestRunnerMeasuresAStepThatDrainedInItsWarmUpWhole(t *testing.T) {
	r := testRunner(t)
	res := r.throughput(context.Background(), &memSystem{slowTail: 3}, scConsume, 1, 100, quickTiming)
	require.False(t, res.Failed, res.Check)
	require.True(t, res.Drained)
	// 500 messages in well under a second: the tail alone would be about
	// 3 messages in 0.18 s.
	require.Greater(t, res.Rate, 500.0)
}

func TestRunnerReportsLostMessages(t *testing.T) {
	r := testRunner(t)
	res := r.throughput(context.Background(), &memSystem{lose: true}, scMixed, 2, 100, quickTiming)
	require.True(t, res.Failed)
	require.Contains(t, res.Check, "FAIL")
	require.Contains(t, res.Check, "lost")
}

func TestRunnerReportsDuplicates(t *testing.T) {
	r := testRunner(t)
	res := r.throughput(context.Background(), &memSystem{dup: true}, scConsume, 1, 100, quickTiming)
	require.True(t, res.Failed)
	require.Contains(t, res.Check, "duplicated")
}

func TestRunnerBoundSystemIsNotChecked(t *testing.T) {
	r := testRunner(t)
	res := r.throughput(context.Background(), &memSystem{bound: true}, scConsume, 1, 100, quickTiming)
	require.False(t, res.Failed)
	require.Greater(t, res.Rate, 0.0)
	require.Contains(t, res.Check, "n/a")
}

func TestLatencyStepSamplesEveryMessage(t *testing.T) {
	r := testRunner(t)
	res := r.latencyStep(context.Background(), &memSystem{}, 100)
	require.False(t, res.Failed, res.Check)
	require.Len(t, res.Latency, 20)
	require.LessOrEqual(t, res.Latency[0], res.Latency[19], "sorted")
	require.Greater(t, res.Latency[0], time.Duration(0))
}
