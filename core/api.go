package core

// This file is the contract between core and the layers above it (engine/,
// the C ABI). Implementations live in the files named after each concept;
// this file only declares the exported types that several of them share.

// MatchFunc reports whether a row payload passes a consumer's condition.
// It must be pure and safe for concurrent use; it must not call back into core.
type MatchFunc func(payload []byte) bool

// Spec is one (table, filter) pair of a queue_wait call. Specs are tried in
// order: the first spec with an eligible row wins.
type Spec struct {
	Table  *Table
	Filter *Filter // nil: every row matches
}

// Relay arms an Append with a relay mark (queue_set_srcid).
type Relay struct {
	Slot  int    // 0..MaxRelaySlots-1
	RowID uint64 // source row id; 0 means "no source"
	Reset bool   // 'w' mode: skip the duplicate check and set the mark
}

// MaxRelaySlots is the number of relay sender slots per table.
const MaxRelaySlots = 64
