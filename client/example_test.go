package client_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/queue-engine/queue/client"
)

// The consumer loop: Wait owns one row at a time; the next Wait (or End)
// consumes it.
func Example() {
	db, err := client.Open(dsn) // e.g. "root@unix(/path/mysqld.sock)/test"
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	for _, q := range []string{
		"DROP TABLE IF EXISTS ex_jobs",
		"CREATE TABLE ex_jobs (id INT NOT NULL, payload TEXT) ENGINE=queue",
		"INSERT INTO ex_jobs VALUES (1, 'resize photo 17'), (2, 'send mail 4')",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			log.Fatal(err)
		}
	}

	c := client.NewConsumer(db)
	defer c.Close()
	for i := 0; i < 2; i++ {
		m, err := c.Wait(ctx, "ex_jobs")
		if err != nil {
			log.Fatal(err)
		}
		payload, _ := m.Get("payload")
		fmt.Println(m.RowID, payload)
	}
	if err := c.End(ctx); err != nil { // consumes the last row
		log.Fatal(err)
	}
	var left int
	_ = db.QueryRowContext(ctx, "SELECT COUNT(*) FROM ex_jobs").Scan(&left)
	fmt.Println("left:", left)
	// Output:
	// 1 resize photo 17
	// 2 send mail 4
	// left: 0
}

// Several specs are priorities: the first spec that has a row wins, and
// Message.Index says which one it was. A spec may carry a condition.
func ExampleConsumer_Wait() {
	db, err := client.Open(dsn)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	for _, q := range []string{
		"DROP TABLE IF EXISTS ex_prio",
		"CREATE TABLE ex_prio (prio INT NOT NULL, what VARCHAR(20)) ENGINE=queue",
		"INSERT INTO ex_prio VALUES (1, 'low'), (9, 'urgent'), (2, 'low too')",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			log.Fatal(err)
		}
	}
	c := client.NewConsumer(db)
	defer c.Close()
	for i := 0; i < 3; i++ {
		m, err := c.Wait(ctx, "ex_prio:prio >= 5", "ex_prio")
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(m.Index, m.Map()["what"])
	}
	_ = c.End(ctx)
	// Output:
	// 1 urgent
	// 2 low
	// 2 low too
}

// Abort gives the row back: it is delivered next.
func ExampleConsumer_Abort() {
	db, err := client.Open(dsn)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	for _, q := range []string{
		"DROP TABLE IF EXISTS ex_abort",
		"CREATE TABLE ex_abort (v INT) ENGINE=queue",
		"INSERT INTO ex_abort VALUES (10), (20)",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			log.Fatal(err)
		}
	}
	c := client.NewConsumer(db)
	defer c.Close()
	m, _ := c.Wait(ctx, "ex_abort")
	fmt.Println("got", m.Map()["v"], "row", c.RowID())
	_ = c.Abort(ctx)
	m, _ = c.Wait(ctx, "ex_abort")
	fmt.Println("again", m.Map()["v"], "row", m.RowID)
	_ = c.End(ctx)
	// Output:
	// got 10 row 1
	// again 10 row 1
}

// A cancelled context interrupts the server-side wait at once.
func ExampleConsumer_Wait_cancel() {
	db, err := client.Open(dsn)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("DROP TABLE IF EXISTS ex_empty"); err != nil {
		log.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE ex_empty (v INT) ENGINE=queue"); err != nil {
		log.Fatal(err)
	}
	c := client.NewConsumer(db)
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	_, err = c.Wait(ctx, "ex_empty")
	fmt.Println(err, time.Since(start) < 5*time.Second)
	// Output:
	// context canceled true
}

// A Producer sends rows in multi-row INSERTs.
func ExampleProducer() {
	db, err := client.Open(dsn)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if _, err := db.Exec("DROP TABLE IF EXISTS ex_batch"); err != nil {
		log.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE ex_batch (id INT NOT NULL, body BLOB) ENGINE=queue"); err != nil {
		log.Fatal(err)
	}
	p := client.NewProducer(db, "ex_batch", "id", "body")
	p.BatchSize = 50
	for i := 1; i <= 120; i++ {
		if err := p.Add(ctx, i, []byte{byte(i)}); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println("pending:", p.Pending())
	if err := p.Flush(ctx); err != nil {
		log.Fatal(err)
	}
	var n int
	_ = db.QueryRow("SELECT COUNT(*) FROM ex_batch").Scan(&n)
	fmt.Println("rows:", n)
	// Output:
	// pending: 20
	// rows: 120
}
