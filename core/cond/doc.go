// Package cond implements the condition language of queue_wait('table:condition'):
// a small integer expression language, compatible with Q4M's, that selects the rows
// a consumer accepts.
//
// Compile parses a condition against a table's columns and returns an *Expr. The
// Expr evaluates directly over a stored row payload (the record image MariaDB
// keeps in table->record[0]); it never allocates, never panics, and is safe for
// concurrent use by any number of goroutines because it holds no mutable state.
//
// Values are 64-bit integers with an unsigned flag, like MariaDB's longlong plus
// unsigned_flag, or NULL. The language reference for users is docs/CONDITIONS.md.
package cond
