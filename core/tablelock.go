package core

import (
	"sync"

	"golang.org/x/sys/unix"
)

// tableLock is the table's index lock (Table.mu): a sync.RWMutex whose
// Lock and RLock first try a few times, yielding the CPU in between,
// before they block.
//
// Why: the library's callers are the server's connection threads, and a
// goroutine running on such a thread (a cgo callback) is locked to it.
// When it blocks on a Go mutex, the runtime parks the thread, hands its P
// to another thread and, once the lock is free, hands a P back: about four
// context switches. The lock is held for short steps, but with more
// connection threads than cores its holder is often preempted by the
// kernel; a yield lets it run and release the lock, which costs the
// waiting thread one context switch at most.
type tableLock struct{ sync.RWMutex }

// lockYields is how many times Lock and RLock yield before blocking.
const lockYields = 4

func (l *tableLock) Lock() {
	if !tryYielding(l.TryLock) {
		l.RWMutex.Lock()
	}
}

func (l *tableLock) RLock() {
	if !tryYielding(l.TryRLock) {
		l.RWMutex.RLock()
	}
}

// tryYielding calls try up to lockYields times, yielding between the
// calls, and reports whether one succeeded.
func tryYielding(try func() bool) bool {
	for i := 0; i < lockYields; i++ {
		if try() {
			return true
		}
		yield()
	}
	return false
}

// yield gives the CPU to another runnable thread (sched_yield), leaving
// the goroutine on its thread.
func yield() { _, _, _ = unix.Syscall(unix.SYS_SCHED_YIELD, 0, 0, 0) }
