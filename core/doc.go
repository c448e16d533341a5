// Package core is the queue's storage: a table is a directory of append-only
// segment files holding rows (opaque byte payloads) and removal records. It
// owns durability (group commit + fdatasync), crash recovery, compaction, the
// ownership model (a session owns at most one row), and waiters.
//
// The MariaDB handler and the SQL functions are thin layers over this API:
//
//	Open / Create / Destroy / Table.Rename / Table.Truncate / Table.Close
//	Table.Append      a statement's rows, durable and atomic on return
//	Table.Remove      durable removal (DELETE, queue_end)
//	Table.Scan        visibility-filtered cursor (SELECT, DELETE scans)
//	Table.Get         one row by id (rnd_pos)
//	Session           per-connection ownership: TryTake, Register (wait), Consume, Release
//
// Reading the source: start with table.go, then commit.go (group commit),
// recover.go, owner.go and wait.go.
package core
