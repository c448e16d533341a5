package main

import "sync"

// registry maps uint64 handles to Go values, so C never holds a Go pointer.
// Handles start at 1 and are never reused within a process, so a stale
// handle always misses. mu guards next and items.
type registry[T any] struct {
	mu    sync.Mutex
	next  uint64
	items map[uint64]T
}

func newRegistry[T any]() *registry[T] {
	return &registry[T]{items: make(map[uint64]T)}
}

func (r *registry[T]) add(v T) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.next++
	r.items[r.next] = v
	return r.next
}

func (r *registry[T]) get(h uint64) (T, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.items[h]
	return v, ok
}

// take removes and returns the value of h.
func (r *registry[T]) take(h uint64) (T, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.items[h]
	delete(r.items, h)
	return v, ok
}

func (r *registry[T]) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.items)
}
