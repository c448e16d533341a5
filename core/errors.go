package core

import "errors"

// Sentinel errors. Callers match them with errors.Is; they are wrapped with
// file and offset context where there is one.
var (
	// ErrNotImplemented is returned by parts not built yet.
	ErrNotImplemented = errors.New("queue: not implemented")
	// ErrExists is returned by Create when the table directory already exists.
	ErrExists = errors.New("queue: table exists")
	// ErrNotFound is returned when a table or row does not exist.
	ErrNotFound = errors.New("queue: not found")
	// ErrClosed is returned by operations on a closed or dropped table.
	ErrClosed = errors.New("queue: table closed")
	// ErrCorrupt is returned when recovery finds damage before the tail.
	ErrCorrupt = errors.New("queue: corrupt table")
	// ErrIO is the sticky state after a failed write or sync: the table
	// refuses writes until it is reopened.
	ErrIO = errors.New("queue: I/O error, table is read-only until reopened")
	// ErrNoSpace is returned when the disk is full; nothing acknowledged is lost.
	ErrNoSpace = errors.New("queue: no space left on device")
	// ErrTooLarge is returned for a row or batch over the size limit.
	ErrTooLarge = errors.New("queue: row too large")
	// ErrBadArgument is returned for invalid arguments (relay slot, ...).
	ErrBadArgument = errors.New("queue: bad argument")
)
