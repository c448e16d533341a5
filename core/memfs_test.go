package core

import (
	"errors"
	"io"
	"io/fs"
	"math/rand"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
)

// memFS is an in-memory FS that can crash: Crash() keeps only what was
// synced (file contents by File.Sync, names by SyncDir), plus a random
// prefix of the unsynced writes of each file, the last one possibly torn.
// It also injects faults: failing syncs, failing writes and a disk capacity.
type memFS struct {
	mu      sync.Mutex
	gen     int // bumped by Crash; handles of older generations fail
	cur     map[string]*memNode
	durable map[string]*memNode
	rnd     *rand.Rand

	// fault injection, guarded by mu
	capacity  int64                   // 0: unlimited; bytes of all files
	failSync  func(name string) error // nil: syncs succeed
	failWrite func(name string) error // nil: writes succeed
	syncs     int
	crashIn   int // >0: crash at the crashIn-th mutating operation from now
	crashed   bool
}

// tick counts a mutating operation; it reports true (after crashing the
// file system) when the injected crash point is reached. Caller holds mu.
func (m *memFS) tick() bool {
	if m.crashIn <= 0 {
		return false
	}
	m.crashIn--
	if m.crashIn == 0 {
		m.crashLocked()
		m.crashed = true
		return true
	}
	return false
}

// View returns an FS bound to the current generation: after a crash every
// call through it fails, like calls of a killed process.
func (m *memFS) View() FS {
	m.mu.Lock()
	defer m.mu.Unlock()
	return &memView{m: m, gen: m.gen}
}

type memView struct {
	m   *memFS
	gen int
}

func (v *memView) ok() error {
	v.m.mu.Lock()
	defer v.m.mu.Unlock()
	if v.gen != v.m.gen {
		return errCrashed
	}
	return nil
}

func (v *memView) Create(name string) (File, error) {
	if err := v.ok(); err != nil {
		return nil, err
	}
	return v.m.Create(name)
}

func (v *memView) OpenRW(name string) (File, error) {
	if err := v.ok(); err != nil {
		return nil, err
	}
	return v.m.OpenRW(name)
}

func (v *memView) Mkdir(name string) error {
	if err := v.ok(); err != nil {
		return err
	}
	return v.m.Mkdir(name)
}

func (v *memView) ReadDir(name string) ([]string, error) {
	if err := v.ok(); err != nil {
		return nil, err
	}
	return v.m.ReadDir(name)
}

func (v *memView) Remove(name string) error {
	if err := v.ok(); err != nil {
		return err
	}
	return v.m.Remove(name)
}

func (v *memView) Rename(o, n string) error {
	if err := v.ok(); err != nil {
		return err
	}
	return v.m.Rename(o, n)
}

func (v *memView) SyncDir(name string) error {
	if err := v.ok(); err != nil {
		return err
	}
	return v.m.SyncDir(name)
}

func (v *memView) Exists(name string) (bool, error) {
	if err := v.ok(); err != nil {
		return false, err
	}
	return v.m.Exists(name)
}

type memNode struct {
	dir     bool
	data    []byte // what readers see
	synced  []byte // what survives a crash
	pending []memOp
}

type memOp struct {
	off   int64
	data  []byte
	trunc bool
	size  int64
}

func newMemFS(seed int64) *memFS {
	m := &memFS{cur: map[string]*memNode{}, durable: map[string]*memNode{}, rnd: rand.New(rand.NewSource(seed))}
	root := &memNode{dir: true}
	m.cur["/"] = root
	m.durable["/"] = root
	return m
}

var errCrashed = errors.New("memfs: file system crashed")

func clean(p string) string { return filepath.Clean("/" + p) }

func (m *memFS) Create(name string) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	name = clean(name)
	if _, ok := m.cur[name]; ok {
		return nil, &fs.PathError{Op: "create", Path: name, Err: fs.ErrExist}
	}
	if p, ok := m.cur[filepath.Dir(name)]; !ok || !p.dir {
		return nil, &fs.PathError{Op: "create", Path: name, Err: fs.ErrNotExist}
	}
	if m.tick() {
		return nil, errCrashed
	}
	if m.failWrite != nil {
		if err := m.failWrite(name); err != nil {
			return nil, err
		}
	}
	n := &memNode{}
	m.cur[name] = n
	return &memFile{m: m, n: n, name: name, gen: m.gen}, nil
}

func (m *memFS) OpenRW(name string) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	name = clean(name)
	n, ok := m.cur[name]
	if !ok || n.dir {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return &memFile{m: m, n: n, name: name, gen: m.gen}, nil
}

func (m *memFS) Mkdir(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	name = clean(name)
	if _, ok := m.cur[name]; ok {
		return &fs.PathError{Op: "mkdir", Path: name, Err: fs.ErrExist}
	}
	if p, ok := m.cur[filepath.Dir(name)]; !ok || !p.dir {
		return &fs.PathError{Op: "mkdir", Path: name, Err: fs.ErrNotExist}
	}
	m.cur[name] = &memNode{dir: true}
	return nil
}

func (m *memFS) MkdirAll(name string) {
	name = clean(name)
	if name == "/" {
		return
	}
	m.MkdirAll(filepath.Dir(name))
	_ = m.Mkdir(name)
	_ = m.SyncDir(filepath.Dir(name))
}

func children(ns map[string]*memNode, dir string) []string {
	var out []string
	for p := range ns {
		if p != "/" && filepath.Dir(p) == dir {
			out = append(out, filepath.Base(p))
		}
	}
	sort.Strings(out)
	return out
}

func (m *memFS) ReadDir(name string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	name = clean(name)
	if n, ok := m.cur[name]; !ok || !n.dir {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	return children(m.cur, name), nil
}

func (m *memFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	name = clean(name)
	if m.tick() {
		return errCrashed
	}
	n, ok := m.cur[name]
	if !ok {
		return &fs.PathError{Op: "remove", Path: name, Err: fs.ErrNotExist}
	}
	if n.dir && len(children(m.cur, name)) > 0 {
		return &fs.PathError{Op: "remove", Path: name, Err: syscall.ENOTEMPTY}
	}
	delete(m.cur, name)
	return nil
}

func (m *memFS) Rename(oldname, newname string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	oldname, newname = clean(oldname), clean(newname)
	if m.tick() {
		return errCrashed
	}
	n, ok := m.cur[oldname]
	if !ok {
		return &fs.PathError{Op: "rename", Path: oldname, Err: fs.ErrNotExist}
	}
	if n.dir {
		// Move the subtree. Durability of the entries under it follows the
		// directory's own entry (a rename of a directory moves its inode).
		for p, c := range m.cur {
			if strings.HasPrefix(p, oldname+"/") {
				delete(m.cur, p)
				m.cur[newname+p[len(oldname):]] = c
			}
		}
		for p, c := range m.durable {
			if strings.HasPrefix(p, oldname+"/") {
				m.durable[newname+p[len(oldname):]] = c
			}
		}
	}
	delete(m.cur, oldname)
	m.cur[newname] = n
	return nil
}

func (m *memFS) SyncDir(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	name = clean(name)
	if m.tick() {
		return errCrashed
	}
	if m.failSync != nil {
		if err := m.failSync(name); err != nil {
			return err
		}
	}
	for p := range m.durable {
		if p != "/" && filepath.Dir(p) == name {
			if _, ok := m.cur[p]; !ok {
				m.dropDurable(p)
			}
		}
	}
	for p, n := range m.cur {
		if p != "/" && filepath.Dir(p) == name {
			if m.durable[p] != n {
				m.dropDurable(p)
				m.durable[p] = n
				if n.dir {
					for q, c := range m.cur {
						if strings.HasPrefix(q, p+"/") {
							m.durable[q] = c
						}
					}
				}
			}
		}
	}
	return nil
}

// dropDurable removes p and (for directories) everything under it.
func (m *memFS) dropDurable(p string) {
	delete(m.durable, p)
	for q := range m.durable {
		if strings.HasPrefix(q, p+"/") {
			delete(m.durable, q)
		}
	}
}

func (m *memFS) Exists(name string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.cur[clean(name)]
	return ok, nil
}

// Crash simulates power loss: only durable names survive, each file keeps
// its synced bytes plus a random prefix of later writes (possibly torn).
func (m *memFS) Crash() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.crashLocked()
}

func (m *memFS) crashLocked() {
	m.gen++
	seen := map[*memNode]bool{}
	for _, n := range m.durable {
		if n.dir || seen[n] {
			continue
		}
		seen[n] = true
		data := append([]byte(nil), n.synced...)
		keep := 0
		if len(n.pending) > 0 {
			keep = m.rnd.Intn(len(n.pending) + 1)
		}
		for i, op := range n.pending[:keep] {
			if op.trunc {
				data = resize(data, op.size)
				continue
			}
			d := op.data
			if i == keep-1 && m.rnd.Intn(2) == 0 && len(d) > 0 {
				d = d[:m.rnd.Intn(len(d))]
			}
			data = writeAt(data, op.off, d)
		}
		n.data = data
		n.synced = append([]byte(nil), data...)
		n.pending = nil
	}
	m.cur = map[string]*memNode{}
	for p, n := range m.durable {
		m.cur[p] = n
	}
}

// Corrupt flips one bit of a file's current and synced bytes.
func (m *memFS) Corrupt(name string, off int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.cur[clean(name)]
	n.data[off] ^= 0x10
	if off < int64(len(n.synced)) {
		n.synced[off] ^= 0x10
	}
}

// SetSize truncates a file durably (tests of torn tails).
func (m *memFS) SetSize(name string, size int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.cur[clean(name)]
	n.data = resize(n.data, size)
	n.synced = resize(n.synced, size)
	n.pending = nil
}

func (m *memFS) used() int64 {
	var total int64
	for _, n := range m.cur {
		total += int64(len(n.data))
	}
	return total
}

func resize(b []byte, size int64) []byte {
	if int64(len(b)) >= size {
		return b[:size]
	}
	return append(b, make([]byte, size-int64(len(b)))...)
}

func writeAt(b []byte, off int64, d []byte) []byte {
	if end := off + int64(len(d)); end > int64(len(b)) {
		b = resize(b, end)
	}
	copy(b[off:], d)
	return b
}

type memFile struct {
	m    *memFS
	n    *memNode
	name string
	gen  int
}

func (f *memFile) check() error {
	if f.gen != f.m.gen {
		return errCrashed
	}
	return nil
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check(); err != nil {
		return 0, err
	}
	if off >= int64(len(f.n.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.n.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check(); err != nil {
		return 0, err
	}
	if f.m.tick() {
		return 0, errCrashed
	}
	if f.m.failWrite != nil {
		if err := f.m.failWrite(f.name); err != nil {
			return 0, err
		}
	}
	var err error
	if f.m.capacity > 0 {
		grow := off + int64(len(p)) - int64(len(f.n.data))
		if free := f.m.capacity - f.m.used(); grow > free {
			keep := int64(len(p)) - (grow - max(free, 0))
			p = p[:max(keep, 0)]
			err = &fs.PathError{Op: "write", Path: f.name, Err: syscall.ENOSPC}
		}
	}
	f.n.data = writeAt(f.n.data, off, p)
	f.n.pending = append(f.n.pending, memOp{off: off, data: append([]byte(nil), p...)})
	return len(p), err
}

func (f *memFile) Sync() error {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check(); err != nil {
		return err
	}
	if f.m.tick() {
		return errCrashed
	}
	f.m.syncs++
	if f.m.failSync != nil {
		if err := f.m.failSync(f.name); err != nil {
			return err
		}
	}
	for _, op := range f.n.pending {
		if op.trunc {
			f.n.synced = resize(f.n.synced, op.size)
		} else {
			f.n.synced = writeAt(f.n.synced, op.off, op.data)
		}
	}
	f.n.pending = nil
	return nil
}

func (f *memFile) Size() (int64, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check(); err != nil {
		return 0, err
	}
	return int64(len(f.n.data)), nil
}

func (f *memFile) Truncate(size int64) error {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check(); err != nil {
		return err
	}
	f.n.data = resize(f.n.data, size)
	f.n.pending = append(f.n.pending, memOp{trunc: true, size: size})
	return nil
}

func (f *memFile) Allocate(off, n int64) error {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check(); err != nil {
		return err
	}
	if f.m.capacity > 0 && off+n-int64(len(f.n.data)) > f.m.capacity-f.m.used() {
		return &fs.PathError{Op: "fallocate", Path: f.name, Err: syscall.ENOSPC}
	}
	return nil
}

func (f *memFile) Close() error { return nil }

// snapshot returns the current contents of every file (a copy).
func (m *memFS) snapshot() map[string][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string][]byte{}
	for p, n := range m.cur {
		if !n.dir {
			out[p] = append([]byte(nil), n.data...)
		}
	}
	return out
}

// memFSFrom builds a file system holding files (all durable).
func memFSFrom(files map[string][]byte) *memFS {
	m := newMemFS(1)
	for p := range files {
		m.MkdirAll(filepath.Dir(p))
	}
	for p, d := range files {
		f, _ := m.Create(p)
		_, _ = f.WriteAt(d, 0)
		_ = f.Sync()
		_ = m.SyncDir(filepath.Dir(p))
	}
	return m
}
