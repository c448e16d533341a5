package core

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Benchmarks of the figures. Run with
//
//	go test -bench . -run '^$' ./core/
//
// Each reports custom metrics next to the baseline measured in the same run.

var payload100 = func() []byte {
	b := make([]byte, 100)
	for i := range b {
		b[i] = byte('a' + i%26)
	}
	return b
}()

// BenchmarkSyncBare is the baseline: one 128-byte pwrite + fdatasync per
// iteration, landing on blocks already written (overwrite), on fallocate'd
// unwritten extents (fallocated), or growing the file (append).
func BenchmarkSyncBare(b *testing.B) {
	for _, mode := range []string{"overwrite", "fallocated", "append"} {
		b.Run(mode, func(b *testing.B) {
			f, err := os.Create(filepath.Join(b.TempDir(), "bare"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			const rec = 128
			size := int64(b.N+1) * rec
			switch mode {
			case "overwrite":
				if _, err := f.WriteAt(make([]byte, size), 0); err != nil {
					b.Fatal(err)
				}
			case "fallocated":
				if err := unix.Fallocate(int(f.Fd()), 0, 0, size); err != nil {
					b.Fatal(err)
				}
			}
			if err := unix.Fdatasync(int(f.Fd())); err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, rec)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := f.WriteAt(buf, int64(i)*rec); err != nil {
					b.Fatal(err)
				}
				if err := unix.Fdatasync(int(f.Fd())); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func benchTable(b *testing.B, opts Options) *Table {
	b.Helper()
	dir := filepath.Join(b.TempDir(), "t.queue")
	if err := Create(dir, opts); err != nil {
		b.Fatal(err)
	}
	tb, err := Open(dir, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = tb.Drop() })
	return tb
}

// BenchmarkAppend measures durable single-row appends (100-byte rows) with
// 1, 8 and 64 concurrent appenders per space-preparation mode; it reports
// appends/s and rows per fdatasync.
func BenchmarkAppend(b *testing.B) {
	modes := []struct {
		name string
		mode PreallocMode
	}{{"zerofill", PreallocZeroFill}, {"fallocate", PreallocFallocate}, {"grow", PreallocGrow}}
	for _, m := range modes {
		for _, conc := range []int{1, 8, 64} {
			b.Run(fmt.Sprintf("%s/appenders=%d", m.name, conc), func(b *testing.B) {
				tb := benchTable(b, Options{Prealloc: m.mode, NoBackground: true})
				rows := [][]byte{payload100}
				syncs0 := tb.Stats().Syncs
				var next atomic.Int64
				var wg sync.WaitGroup
				b.ResetTimer()
				start := time.Now()
				for g := 0; g < conc; g++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for next.Add(1) <= int64(b.N) {
							if _, _, err := tb.Append(rows, nil); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				el := time.Since(start)
				b.StopTimer()
				syncs := tb.Stats().Syncs - syncs0
				b.ReportMetric(float64(b.N)/el.Seconds(), "appends/s")
				b.ReportMetric(float64(b.N)/float64(max(syncs, 1)), "rows/fsync")
			})
		}
	}
}

// fillTable appends n 100-byte rows in statements of 1000 rows.
func fillTable(tb testing.TB, t *Table, n int) {
	batch := make([][]byte, 1000)
	for i := range batch {
		batch[i] = payload100
	}
	for n > 0 {
		k := min(n, len(batch))
		if _, _, err := t.Append(batch[:k], nil); err != nil {
			tb.Fatal(err)
		}
		n -= k
	}
}

// BenchmarkTakeRemove: 64 owners each loop TryTake + Consume (durable
// removal) on a queue of 10k or 1M rows; ns/op is per cycle.
func BenchmarkTakeRemove(b *testing.B) {
	for _, queued := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprintf("queued=%d", queued), func(b *testing.B) {
			tb := benchTable(b, Options{NoBackground: true})
			fillTable(b, tb, queued+b.N)
			spec := []Spec{{Table: tb}}
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for g := 0; g < 64; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					s := NewSession()
					for next.Add(1) <= int64(b.N) {
						idx, err := s.TryTake(spec)
						if err != nil || idx < 0 {
							b.Error("no row", err)
							return
						}
						if err := s.Consume(); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
		})
	}
}

// BenchmarkTakeRelease isolates the in-memory cost of finding the oldest
// eligible row (no I/O): take and release with 64 rows owned by others.
func BenchmarkTakeRelease(b *testing.B) {
	for _, queued := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprintf("queued=%d", queued), func(b *testing.B) {
			tb := benchTable(b, Options{NoBackground: true})
			fillTable(b, tb, queued)
			spec := []Spec{{Table: tb}}
			for i := 0; i < 63; i++ {
				if _, err := NewSession().TryTake(spec); err != nil {
					b.Fatal(err)
				}
			}
			s := NewSession()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if idx, err := s.TryTake(spec); err != nil || idx < 0 {
					b.Fatal("no row", err)
				}
				s.Release(false)
			}
		})
	}
}

// BenchmarkReopen measures the index memory per queued row and the time to
// open a table of 1M rows after a clean close (checkpoint) and after a
// crash (full replay; MB/s scanned).
func BenchmarkReopen(b *testing.B) {
	const n = 1_000_000
	dir := filepath.Join(b.TempDir(), "t.queue")
	opts := Options{NoBackground: true}
	if err := Create(dir, opts); err != nil {
		b.Fatal(err)
	}
	tb, err := Open(dir, opts)
	if err != nil {
		b.Fatal(err)
	}
	fillTable(b, tb, n)
	if err := tb.Close(); err != nil {
		b.Fatal(err)
	}
	for _, crash := range []bool{false, true} {
		name := "clean"
		if crash {
			name = "crash"
		}
		b.Run(name, func(b *testing.B) {
			var heap, bytes float64
			var total time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				if crash {
					_ = os.Remove(filepath.Join(dir, checkpointName))
				}
				runtime.GC()
				var m0, m1 runtime.MemStats
				runtime.ReadMemStats(&m0)
				b.StartTimer()
				start := time.Now()
				t, err := Open(dir, opts)
				if err != nil {
					b.Fatal(err)
				}
				total += time.Since(start)
				b.StopTimer()
				runtime.GC()
				runtime.ReadMemStats(&m1)
				heap = float64(m1.HeapAlloc) - float64(m0.HeapAlloc)
				bytes = float64(t.Stats().RecoveredBytes)
				if t.Count() != n {
					b.Fatalf("count %d", t.Count())
				}
				runtime.KeepAlive(t)
				if err := t.Close(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(heap/n, "heapB/row")
			b.ReportMetric(total.Seconds()/float64(b.N), "s/open")
			if crash {
				b.ReportMetric(bytes/1e6/(total.Seconds()/float64(b.N)), "MB/s")
			}
		})
	}
}

// BenchmarkAppendLatency reports p50/p99 of durable single-row appends by
// 8 appenders while a background producer keeps adding 20k-row backlogs and
// removing 3 rows of 4 of them; with compaction=true it also compacts after
// each round, so the difference is the cost of compaction alone.
func BenchmarkAppendLatency(b *testing.B) {
	for _, compacting := range []bool{false, true} {
		b.Run(fmt.Sprintf("compaction=%v", compacting), func(b *testing.B) {
			tb := benchTable(b, Options{NoBackground: true, SegmentSize: 4 << 20,
				Prealloc: PreallocMode(envInt("QUEUE_BENCH_PREALLOC", 0))})
			stop := make(chan struct{})
			var bg sync.WaitGroup
			var compactions atomic.Int64
			bg.Add(1)
			go func() {
				defer bg.Done()
				for {
					select {
					case <-stop:
						return
					case <-time.After(10 * time.Millisecond):
					}
					first := tb.Stats().NextRowID
					fillTable(b, tb, 20_000)
					var ids []uint64
					for id := first; id < first+20_000; id++ {
						if id%4 != 0 {
							ids = append(ids, id)
						}
					}
					_, _ = tb.Remove(ids)
					if compacting {
						before := tb.Stats().Compactions
						_ = tb.Compact()
						compactions.Add(int64(tb.Stats().Compactions - before))
					}
				}
			}()
			var lat []time.Duration
			var mu sync.Mutex
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for g := 0; g < 8; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var mine []time.Duration
					for next.Add(1) <= int64(b.N) {
						t0 := time.Now()
						if _, _, err := tb.Append([][]byte{payload100}, nil); err != nil {
							b.Error(err)
							return
						}
						mine = append(mine, time.Since(t0))
					}
					mu.Lock()
					lat = append(lat, mine...)
					mu.Unlock()
				}()
			}
			wg.Wait()
			b.StopTimer()
			close(stop)
			bg.Wait()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			if len(lat) > 0 {
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			}
			b.ReportMetric(float64(compactions.Load()), "compactions")
		})
	}
}

// BenchmarkAppendP99DuringCompaction reports the p99 latency of durable
// single-row appends (8 appenders) that overlap a running compaction
// against those that do not, and their ratio. A background loop adds a
// 20k-row backlog, removes three rows of four and compacts; appends are
// classified by whether a compaction ran at any moment between their start
// and their acknowledgement. Run with e.g. -benchtime=20000x.
func BenchmarkAppendP99DuringCompaction(b *testing.B) {
	tb := benchTable(b, Options{NoBackground: true, SegmentSize: 4 << 20,
		Prealloc: PreallocMode(envInt("QUEUE_BENCH_PREALLOC", 0))})
	// phase counts compaction starts and ends (odd: one is running).
	var phase atomic.Int64
	stop := make(chan struct{})
	var bg sync.WaitGroup
	bg.Add(1)
	go func() {
		defer bg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			first := tb.Stats().NextRowID
			fillTable(b, tb, 20_000)
			var ids []uint64
			for id := first; id < first+20_000; id++ {
				if id%4 != 0 {
					ids = append(ids, id)
				}
			}
			_, _ = tb.Remove(ids)
			phase.Add(1)
			_ = tb.Compact()
			phase.Add(1)
		}
	}()
	var during, outside []time.Duration
	var mu sync.Mutex
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var in, out []time.Duration
			for next.Add(1) <= int64(b.N) {
				p0 := phase.Load()
				t0 := time.Now()
				if _, _, err := tb.Append([][]byte{payload100}, nil); err != nil {
					b.Error(err)
					return
				}
				d := time.Since(t0)
				if p0%2 == 1 || phase.Load() != p0 {
					in = append(in, d)
				} else {
					out = append(out, d)
				}
			}
			mu.Lock()
			during = append(during, in...)
			outside = append(outside, out...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	b.StopTimer()
	close(stop)
	bg.Wait()
	p99 := func(l []time.Duration) float64 {
		if len(l) == 0 {
			return 0
		}
		sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
		return float64(l[len(l)*99/100].Microseconds())
	}
	pin, pout := p99(during), p99(outside)
	b.ReportMetric(pout, "p99-idle-µs")
	b.ReportMetric(pin, "p99-compacting-µs")
	if pout > 0 {
		b.ReportMetric(pin/pout, "p99-ratio")
	}
	b.ReportMetric(float64(len(during)), "appends-compacting")
	b.ReportMetric(float64(phase.Load()/2), "compactions")
}
