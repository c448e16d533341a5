package main

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// runMeasure prints delivery latency with one idle consumer, then consume
// throughput with 1, 4 and 16 consumers against a pre-filled table, each
// beside the rate of the same number of connections running SELECT 1 twice
// per message (the SQL layer's own cost of the two round trips a consumer
// makes per message).
func runMeasure(ctx context.Context, db *sql.DB, c config, samples, prefill int) error {
	if err := waitServer(ctx, db); err != nil {
		return err
	}
	if err := measureLatency(ctx, db, c.table+"_lat", samples); err != nil {
		return err
	}
	for _, k := range []int{1, 4, 16} {
		if err := measureThroughput(ctx, db, c.table+"_tp", k, prefill); err != nil {
			return err
		}
	}
	return nil
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := int(p * float64(len(d)-1))
	return d[i]
}

// measureLatency: the time from a producer's INSERT returning to the waiting
// consumer's queue_wait returning. The producer inserts only once the
// consumer shows "Waiting on queue" in the process list.
func measureLatency(ctx context.Context, db *sql.DB, table string, samples int) error {
	if err := createTable(ctx, db, table); err != nil {
		return err
	}
	cons, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer cons.Close()
	prod, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer prod.Close()
	watch, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer watch.Close()
	var consID int64
	if err := cons.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&consID); err != nil {
		return err
	}
	wait := fmt.Sprintf("SELECT queue_wait('%s', 10)", table)
	waiting := fmt.Sprintf("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID=%d AND STATE='Waiting on queue'", consID)
	lat := make([]time.Duration, 0, samples)  // INSERT returned -> queue_wait returned
	full := make([]time.Duration, 0, samples) // INSERT sent -> queue_wait returned
	ins := make([]time.Duration, 0, samples)
	early := 0
	for i := 0; i < samples; i++ {
		type result struct {
			at  time.Time
			err error
		}
		done := make(chan result, 1)
		go func() {
			var idx sql.NullInt64
			err := cons.QueryRowContext(ctx, wait).Scan(&idx)
			at := time.Now()
			if err == nil && idx.Int64 != 1 {
				err = fmt.Errorf("queue_wait returned %v", idx)
			}
			if err == nil {
				var id int64
				err = cons.QueryRowContext(ctx, "SELECT id FROM "+table).Scan(&id)
			}
			if err == nil {
				_, err = cons.ExecContext(ctx, "SELECT queue_end()")
			}
			done <- result{at, err}
		}()
		for {
			var n int
			if err := watch.QueryRowContext(ctx, waiting).Scan(&n); err != nil {
				return err
			}
			if n == 1 {
				break
			}
			time.Sleep(200 * time.Microsecond)
		}
		t := time.Now()
		if _, err := prod.ExecContext(ctx, fmt.Sprintf("INSERT INTO %s VALUES (%d, 0, 'latency')", table, i)); err != nil {
			return err
		}
		t0 := time.Now()
		r := <-done
		if r.err != nil {
			return fmt.Errorf("latency consumer: %w", r.err)
		}
		d := r.at.Sub(t0)
		if d < 0 {
			early++ // the consumer returned before the INSERT's OK reached the producer
			d = 0
		}
		lat = append(lat, d)
		full = append(full, r.at.Sub(t))
		ins = append(ins, t0.Sub(t))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	sort.Slice(ins, func(i, j int) bool { return ins[i] < ins[j] })
	sort.Slice(full, func(i, j int) bool { return full[i] < full[j] })
	fmt.Printf("latency (INSERT returned -> queue_wait returned, 1 idle consumer, %d samples): p50 %v  p99 %v  max %v  (%d woke before the INSERT returned; INSERT itself p50 %v p99 %v)\n",
		samples, percentile(lat, 0.50).Round(time.Microsecond), percentile(lat, 0.99).Round(time.Microsecond),
		lat[len(lat)-1].Round(time.Microsecond), early,
		percentile(ins, 0.50).Round(time.Microsecond), percentile(ins, 0.99).Round(time.Microsecond))
	fmt.Printf("latency (INSERT sent -> queue_wait returned): p50 %v  p99 %v\n",
		percentile(full, 0.50).Round(time.Microsecond), percentile(full, 0.99).Round(time.Microsecond))
	_, err = db.ExecContext(ctx, "DROP TABLE "+table)
	return err
}

// measureThroughput consumes n pre-filled rows with k connections
// (queue_wait + SELECT per message, queue_end at the end) and then runs
// 2*n SELECT 1 spread over k connections.
func measureThroughput(ctx context.Context, db *sql.DB, table string, k, n int) error {
	if err := createTable(ctx, db, table); err != nil {
		return err
	}
	for i := 0; i < n; {
		var q strings.Builder
		q.WriteString("INSERT INTO " + table + " VALUES ")
		for j := 0; j < 200 && i < n; j, i = j+1, i+1 {
			if j > 0 {
				q.WriteString(",")
			}
			fmt.Fprintf(&q, "(%d,0,'throughput message %d')", i, i)
		}
		if _, err := db.ExecContext(ctx, q.String()); err != nil {
			return err
		}
	}
	conns := make([]*sql.Conn, k)
	for i := range conns {
		var err error
		if conns[i], err = db.Conn(ctx); err != nil {
			return err
		}
		defer conns[i].Close()
	}
	wait := fmt.Sprintf("SELECT queue_wait('%s', 0)", table)
	read := "SELECT * FROM " + table
	var consumed atomic.Int64
	run := func(body func(conn *sql.Conn) error) (time.Duration, error) {
		var wg sync.WaitGroup
		errs := make(chan error, k)
		start := time.Now()
		for _, conn := range conns {
			wg.Add(1)
			go func(conn *sql.Conn) {
				defer wg.Done()
				if err := body(conn); err != nil {
					errs <- err
				}
			}(conn)
		}
		wg.Wait()
		close(errs)
		return time.Since(start), <-errs
	}
	qd, err := run(func(conn *sql.Conn) error {
		for {
			var idx sql.NullInt64
			if err := conn.QueryRowContext(ctx, wait).Scan(&idx); err != nil {
				return err
			}
			if idx.Int64 != 1 {
				_, err := conn.ExecContext(ctx, "SELECT queue_end()")
				return err
			}
			rows, err := conn.QueryContext(ctx, read)
			if err != nil {
				return err
			}
			for rows.Next() {
				consumed.Add(1)
			}
			rows.Close()
		}
	})
	if err != nil {
		return err
	}
	if consumed.Load() != int64(n) {
		return fmt.Errorf("throughput: consumed %d of %d rows", consumed.Load(), n)
	}
	var next atomic.Int64
	sd, err := run(func(conn *sql.Conn) error {
		for next.Add(1) <= int64(n) {
			for j := 0; j < 2; j++ {
				var one int
				if err := conn.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Printf("throughput, %2d consumers, %d messages: queue %8.0f msg/s   SELECT 1 x2 %8.0f msg/s\n",
		k, n, float64(n)/qd.Seconds(), float64(n)/sd.Seconds())
	_, err = db.ExecContext(ctx, "DROP TABLE "+table)
	return err
}
