package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// defaultSocket is where Debian's server listens when a Q4M DSN names no
// host, or localhost without a port (as libmysqlclient does).
const defaultSocket = "/run/mysqld/mysqld.sock"

// endpoint is one side of the relay: how to connect and which table.
type endpoint struct {
	cfg   *mysql.Config
	table string
}

// String describes the endpoint without credentials.
func (e endpoint) String() string {
	where := e.cfg.Addr
	if e.cfg.Net == "unix" {
		where = "socket " + e.cfg.Addr
	}
	return fmt.Sprintf("%s (%s) table %s", e.cfg.DBName, where, e.table)
}

// parseEndpoint accepts Q4M's form
//
//	dbi:mysql:database=D;host=H;port=P;table=T
//	dbi:mysql:database=D;mysql_socket=S;table=T
//
// or a Go DSN ("user:pass@tcp(host:port)/db", "user@unix(/sock)/db") with the
// table given separately (table, from --src-table / --dst-table; for a Q4M
// DSN it must agree with table=).
func parseEndpoint(s, table string) (endpoint, error) {
	if strings.HasPrefix(strings.ToLower(s), "dbi:") {
		return parseDBI(s, table)
	}
	cfg, err := mysql.ParseDSN(s)
	if err != nil {
		return endpoint{}, fmt.Errorf("bad DSN: %v", err)
	}
	if table == "" {
		return endpoint{}, fmt.Errorf("a Go DSN needs the table (--src-table / --dst-table)")
	}
	if cfg.DBName == "" && !strings.Contains(table, ".") {
		return endpoint{}, fmt.Errorf("no database in the DSN and none in the table name %q", table)
	}
	return endpoint{cfg: cfg, table: table}, nil
}

func parseDBI(s, table string) (endpoint, error) {
	parts := strings.SplitN(s, ":", 3)
	if len(parts) != 3 || !strings.EqualFold(parts[1], "mysql") {
		return endpoint{}, fmt.Errorf("bad DSN: want dbi:mysql:database=D;host=H;port=P;table=T")
	}
	cfg := mysql.NewConfig()
	var host, port, sock, tbl string
	for _, kv := range strings.Split(parts[2], ";") {
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			// dbi:mysql:DB is DBI's short form for the database.
			if cfg.DBName == "" && !strings.Contains(kv, "=") {
				cfg.DBName = kv
				continue
			}
			return endpoint{}, fmt.Errorf("bad DSN element %q", kv)
		}
		switch strings.ToLower(k) {
		case "database", "db", "dbname":
			cfg.DBName = v
		case "host", "hostname":
			host = v
		case "port":
			if _, err := strconv.Atoi(v); err != nil {
				return endpoint{}, fmt.Errorf("bad port %q", v)
			}
			port = v
		case "mysql_socket":
			sock = v
		case "table":
			tbl = v
		default:
			return endpoint{}, fmt.Errorf("unsupported DSN element %q", k)
		}
	}
	switch {
	case tbl == "" && table == "":
		return endpoint{}, fmt.Errorf("the DSN has no table=NAME")
	case tbl == "":
		tbl = table
	case table != "" && table != tbl:
		return endpoint{}, fmt.Errorf("table=%s in the DSN but %s given as option", tbl, table)
	}
	if cfg.DBName == "" {
		return endpoint{}, fmt.Errorf("the DSN has no database=NAME")
	}
	switch {
	case sock != "":
		cfg.Net, cfg.Addr = "unix", sock
	case (host == "" || host == "localhost") && port == "":
		cfg.Net, cfg.Addr = "unix", defaultSocket
	default:
		if host == "" || host == "localhost" {
			host = "127.0.0.1"
		}
		if port == "" {
			port = "3306"
		}
		cfg.Net, cfg.Addr = "tcp", net.JoinHostPort(host, port)
	}
	return endpoint{cfg: cfg, table: tbl}, nil
}

// credentials are the user and password to use, each with a flag saying
// whether it was given.
type credentials struct {
	user, password       string
	hasUser, hasPassword bool
}

// merge fills what c lacks from o.
func (c credentials) merge(o credentials) credentials {
	if !c.hasUser && o.hasUser {
		c.user, c.hasUser = o.user, true
	}
	if !c.hasPassword && o.hasPassword {
		c.password, c.hasPassword = o.password, true
	}
	return c
}

// envCredentials reads MYSQL_USER and MYSQL_PWD.
func envCredentials() credentials {
	var c credentials
	c.user, c.hasUser = os.LookupEnv("MYSQL_USER")
	c.password, c.hasPassword = os.LookupEnv("MYSQL_PWD")
	return c
}

// optionFileCredentials reads user and password from the [client] group of
// a MySQL option file (missing file: nothing).
func optionFileCredentials(path string) (credentials, error) {
	var c credentials
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			return c, nil
		}
		return c, err
	}
	defer f.Close()
	group := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' || line[0] == '!' {
			continue
		}
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			group = strings.ToLower(strings.TrimSpace(line[1 : len(line)-1]))
			continue
		}
		if group != "client" {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		k = strings.ReplaceAll(strings.ToLower(strings.TrimSpace(k)), "_", "-")
		v = unquoteOption(strings.TrimSpace(v))
		switch k {
		case "user":
			c.user, c.hasUser = v, true
		case "password":
			c.password, c.hasPassword = v, true
		}
	}
	return c, sc.Err()
}

func unquoteOption(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	if i := strings.Index(v, " #"); i >= 0 {
		v = strings.TrimSpace(v[:i])
	}
	return v
}

func defaultOptionFile() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".my.cnf")
}

// apply sets the credentials and the connection settings the forwarder
// needs on an endpoint's configuration. A user in a Go DSN is kept unless
// --user was given.
func (e endpoint) apply(flags, others credentials, osUser string) {
	if flags.hasUser || e.cfg.User == "" {
		c := flags.merge(others)
		if c.hasUser {
			e.cfg.User = c.user
		} else {
			e.cfg.User = osUser
		}
	}
	if c := flags.merge(others); c.hasPassword && (flags.hasPassword || e.cfg.Passwd == "") {
		e.cfg.Passwd = c.password
	}
	e.cfg.ParseTime = false // dates travel as text
	// TIMESTAMP values travel as text too: read and write them in UTC so
	// servers in different time zones agree on the instant.
	if e.cfg.Params == nil {
		e.cfg.Params = map[string]string{}
	}
	if _, ok := e.cfg.Params["time_zone"]; !ok {
		e.cfg.Params["time_zone"] = "'+00:00'"
	}
	if e.cfg.Timeout == 0 {
		e.cfg.Timeout = 5 * time.Second
	}
}
