package core

import (
	"errors"
	"fmt"
	"syscall"
)

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

// fileError wraps a sentinel with the file, the offset and the cause.
func fileError(sentinel error, file string, off int64, cause error) error {
	if cause == nil {
		return fmt.Errorf("%w: %s at offset %d", sentinel, file, off)
	}
	return fmt.Errorf("%w: %s at offset %d: %w", sentinel, file, off, cause)
}

// classifyWriteError maps a write/allocate failure to ErrNoSpace (clean,
// retryable) or ErrIO (sticky).
func classifyWriteError(file string, off int64, err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fileError(ErrNoSpace, file, off, err)
	}
	return fileError(ErrIO, file, off, err)
}

// recoverError turns a panic into an error so no panic escapes an exported
// function into the server. Use as: defer recoverError(&err).
func recoverError(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("queue: internal error: %v", r)
	}
}
