package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseEndpoint(t *testing.T) {
	for _, c := range []struct {
		in, table                string
		net, addr, db, wantTable string
	}{
		{"dbi:mysql:database=d;host=h;port=3310;table=t", "", "tcp", "h:3310", "d", "t"},
		{"dbi:mysql:database=d;host=localhost;port=3310;table=t", "", "tcp", "127.0.0.1:3310", "d", "t"},
		{"dbi:mysql:database=d;table=t", "", "unix", defaultSocket, "d", "t"},
		{"DBI:mysql:db=d;mysql_socket=/x/s.sock;table=t", "t", "unix", "/x/s.sock", "d", "t"},
		{"dbi:mysql:d;host=h;table=t", "", "tcp", "h:3306", "d", "t"},
		{"u:p@tcp(127.0.0.1:3327)/test", "q", "tcp", "127.0.0.1:3327", "test", "q"},
		{"u@unix(/s.sock)/", "db.q", "unix", "/s.sock", "", "db.q"},
	} {
		e, err := parseEndpoint(c.in, c.table)
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if e.cfg.Net != c.net || e.cfg.Addr != c.addr || e.cfg.DBName != c.db || e.table != c.wantTable {
			t.Errorf("%s: got %s %s %s %s", c.in, e.cfg.Net, e.cfg.Addr, e.cfg.DBName, e.table)
		}
	}
	for _, c := range []struct{ in, table string }{
		{"dbi:mysql:database=d;host=h", ""},         // no table
		{"dbi:mysql:host=h;table=t", ""},            // no database
		{"dbi:mysql:database=d;table=t;foo=1", ""},  // unknown element
		{"dbi:mysql:database=d;port=x;table=t", ""}, // bad port
		{"dbi:mysql:database=d;table=t", "other"},   // two tables
		{"dbi:Pg:database=d;table=t", ""},           // not mysql
		{"root@tcp(127.0.0.1:3306)/test", ""},       // Go DSN without table
		{"root@tcp(127.0.0.1:3306)/", "t"},          // no database anywhere
	} {
		if _, err := parseEndpoint(c.in, c.table); err == nil {
			t.Errorf("%s (table %q) accepted", c.in, c.table)
		}
	}
}

func TestCredentials(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "my.cnf")
	if err := os.WriteFile(f, []byte("# comment\n[mysql]\nuser=wrong\n[client]\nuser = fileuser\npassword=\"se cret\"\n[mysqld]\nuser=mysql\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fc, err := optionFileCredentials(f)
	if err != nil || fc.user != "fileuser" || fc.password != "se cret" {
		t.Fatalf("option file: %+v %v", fc, err)
	}
	if c, err := optionFileCredentials(filepath.Join(dir, "none")); err != nil || c.hasUser {
		t.Errorf("missing option file: %+v %v", c, err)
	}

	// --user wins over everything; a Go DSN's user wins over the
	// environment and the option file; a Q4M DSN has none.
	e, _ := parseEndpoint("dsnuser:dsnpw@tcp(h:1)/d", "t")
	e.apply(credentials{}, credentials{user: "env", hasUser: true, password: "envpw", hasPassword: true}, "os")
	if e.cfg.User != "dsnuser" || e.cfg.Passwd != "dsnpw" {
		t.Errorf("Go DSN credentials replaced: %s", e.cfg.User)
	}
	e, _ = parseEndpoint("dbi:mysql:database=d;table=t", "")
	e.apply(credentials{}, credentials{user: "env", hasUser: true}.merge(fc), "os")
	if e.cfg.User != "env" || e.cfg.Passwd != "se cret" {
		t.Errorf("environment then option file: %s", e.cfg.User)
	}
	e, _ = parseEndpoint("dbi:mysql:database=d;table=t", "")
	e.apply(credentials{user: "flag", hasUser: true, password: "", hasPassword: true}, fc, "os")
	if e.cfg.User != "flag" || e.cfg.Passwd != "" {
		t.Errorf("flags: %s %q", e.cfg.User, e.cfg.Passwd)
	}
	e, _ = parseEndpoint("dbi:mysql:database=d;table=t", "")
	e.apply(credentials{}, credentials{}, "os")
	if e.cfg.User != "os" {
		t.Errorf("login name: %s", e.cfg.User)
	}
	if s := e.String(); s != "d (socket "+defaultSocket+") table t" {
		t.Errorf("String: %s", s)
	}
}
