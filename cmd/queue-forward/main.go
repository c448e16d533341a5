// queue-forward relays the rows of a queue table to a queue table on
// another server, exactly once (Q4M's q4m-forward).
//
//	queue-forward [--sender N] [--reset] SRC DST
//
// SRC and DST are Q4M's DSNs, dbi:mysql:database=D;host=H;port=P;table=T
// (mysql_socket=S instead of host and port), or Go DSNs with --src-table and
// --dst-table. Each row: queue_wait on the source, queue_set_srcid(sender,
// 'a', rowid) and INSERT (columns matched by name) on the destination, and
// only after the destination acknowledged, the source row is consumed. A
// row offered again after a failure is dropped by the destination as a
// duplicate. Run exactly one forwarder per (source table, sender slot).
// See docs/SCALING.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"os/user"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("queue-forward", flag.ContinueOnError)
	sender := fs.Int("sender", 0, "relay slot 0..63 identifying this source at the destination")
	reset := fs.Bool("reset", false, "the first row sets the relay mark even if lower (the source table was recreated)")
	srcTable := fs.String("src-table", "", "source table (with a Go DSN)")
	dstTable := fs.String("dst-table", "", "destination table (with a Go DSN)")
	srcCond := fs.String("src-cond", "", "forward only the source rows matching this queue_wait condition\n"+
		"(fan-out: one forwarder per disjoint condition, see docs/SCALING.md)")
	userFlag := fs.String("user", "", "user for both servers (else MYSQL_USER, ~/.my.cnf [client], the login name)")
	passFlag := fs.String("password", "", "password for both servers (better: MYSQL_PWD or ~/.my.cnf)")
	optFile := fs.String("defaults-file", defaultOptionFile(), "option file read for user and password ([client])")
	stats := fs.Duration("stats", 10*time.Second, "interval of the throughput line (0: none)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: queue-forward [--sender N] [--reset] [options] SRC DST\n"+
			"  SRC, DST: dbi:mysql:database=D;host=H;port=P;table=T (or mysql_socket=S)\n"+
			"            or Go DSNs (user@tcp(host:port)/db) with --src-table / --dst-table\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	logger := log.New(os.Stderr, "queue-forward: ", log.LstdFlags)
	// The driver's own messages duplicate the errors this program logs.
	_ = mysql.SetLogger(&mysql.NopLogger{})
	if fs.NArg() != 2 {
		fs.Usage()
		return 2
	}
	if *sender < 0 || *sender > 63 {
		logger.Printf("--sender %d: the slot must be 0..63", *sender)
		return 2
	}
	src, err := parseEndpoint(fs.Arg(0), *srcTable)
	if err != nil {
		logger.Printf("SRC: %v", err)
		return 2
	}
	dst, err := parseEndpoint(fs.Arg(1), *dstTable)
	if err != nil {
		logger.Printf("DST: %v", err)
		return 2
	}
	var flags credentials
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "user":
			flags.user, flags.hasUser = *userFlag, true
		case "password":
			flags.password, flags.hasPassword = *passFlag, true
		}
	})
	others := envCredentials()
	if *optFile != "" {
		fc, err := optionFileCredentials(*optFile)
		if err != nil {
			logger.Printf("option file %s: %v", *optFile, err)
			return 2
		}
		others = others.merge(fc)
	}
	osUser := "root"
	if u, err := user.Current(); err == nil {
		osUser = u.Username
	}
	src.apply(flags, others, osUser)
	dst.apply(flags, others, osUser)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	f, err := newForwarder(src, dst, *srcCond, *sender, *reset, logger)
	if err != nil {
		logger.Print(err)
		return 1
	}
	mode := "a"
	if *reset {
		mode = "w for the first row"
	}
	cond := ""
	if *srcCond != "" {
		cond = " where " + *srcCond
	}
	logger.Printf("forwarding %s%s -> %s, sender %d, mode %s", src, cond, dst, *sender, mode)
	rctx, rstop := context.WithCancel(ctx)
	go f.report(rctx, *stats)
	start := time.Now()
	err = f.run(ctx)
	rstop()
	logger.Printf("stopped: %d rows forwarded in %.1fs", f.forwarded.Load(), time.Since(start).Seconds())
	if err != nil {
		logger.Print(err)
		return 1
	}
	return 0
}
