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
// Reading the source: docs/FORMAT.md specifies the files. Start with
// table.go, then format.go and segment.go (frames and the in-memory index),
// commit.go (group commit), prealloc.go, recover.go, checkpoint.go,
// compact.go, truncate.go, owner.go (ownership, takes, filter positions) and
// wait.go (waiters).
//
// Lock order: the global waitMu, then Table.compactMu, Table.wmu, Table.mu,
// Session.mu. Table.cmu (the commit queue) is a leaf. notify callbacks run
// with no lock of core held except the waiter's own nmu.
package core
