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

// memFS is an in-memory FS that can lose power. It keeps, separately:
//
//   - file data: what readers see (data), what a file Sync made durable
//     (synced) and the writes since (pending). At a crash each pending write
//     is independently lost, kept, or torn (a random subset of its 512-byte
//     sectors reaches the disk), as LazyFS and ALICE model it;
//   - directory entries: the names as of each directory's last SyncDir
//     (durable) and the creates, renames and removes since (dirOps). At a
//     crash each of those independently persists or reverts (a rename is
//     atomic in itself).
//
// Kill simulates the death of the process alone: nothing is lost, but every
// handle of the old generation fails. Every operation checks the
// generation and runs under the same lock hold, so an operation is atomic
// with respect to a crash or a kill: it happens wholly before it or fails.
// It also injects faults: failing syncs, failing writes and a disk capacity.
type memFS struct {
	mu      sync.Mutex
	gen     int // bumped by Crash and Kill; handles of older generations fail
	cur     map[string]*memNode
	durable map[string]*memNode
	dirOps  []memDirOp // entry changes not yet made durable by a SyncDir
	rnd     *rand.Rand
	// loseAll makes a crash drop every unsynced write and entry change
	// (the deterministic worst case) instead of a random choice.
	loseAll bool
	// keepDirOp, when set, decides which unsynced entry changes survive a
	// crash (deterministic tests of their order).
	keepDirOp func(op memDirOp) bool

	// fault injection, guarded by mu
	capacity  int64                   // 0: unlimited; bytes of all files
	failSync  func(name string) error // nil: syncs succeed
	failWrite func(name string) error // nil: writes succeed
	syncs     int
	crashIn   int // >0: crash at the crashIn-th mutating operation from now
	crashed   bool
	// killNext makes the injected crash point a Kill (process death, no
	// loss) instead of a power loss.
	killNext bool
}

// memDirOp is a directory entry change not yet made durable.
type memDirOp struct {
	kind    byte // 'c' create/mkdir, 'r' remove, 'm' rename
	name    string
	newname string // rename target
	node    *memNode
}

// parents returns the directories whose SyncDir makes op durable.
func (op memDirOp) parents() (string, string) {
	if op.kind == 'm' {
		return filepath.Dir(op.name), filepath.Dir(op.newname)
	}
	return filepath.Dir(op.name), filepath.Dir(op.name)
}

// tick counts a mutating operation; it reports true (after crashing the
// file system) when the injected crash point is reached. Caller holds mu.
func (m *memFS) tick() bool {
	if m.crashIn <= 0 {
		return false
	}
	m.crashIn--
	if m.crashIn == 0 {
		if m.killNext {
			m.gen++
		} else {
			m.crashLocked()
		}
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

// memView binds calls to a generation; the memFS methods check it under
// their lock (anyGen means the current one).
type memView struct {
	m   *memFS
	gen int
}

const anyGen = -1

func (v *memView) Create(name string) (File, error)      { return v.m.create(v.gen, name) }
func (v *memView) OpenRW(name string) (File, error)      { return v.m.openRW(v.gen, name) }
func (v *memView) Mkdir(name string) error               { return v.m.mkdir(v.gen, name) }
func (v *memView) ReadDir(name string) ([]string, error) { return v.m.readDir(v.gen, name) }
func (v *memView) Remove(name string) error              { return v.m.remove(v.gen, name) }
func (v *memView) Rename(o, n string) error              { return v.m.rename(v.gen, o, n) }
func (v *memView) SyncDir(name string) error             { return v.m.syncDir(v.gen, name) }
func (v *memView) Exists(name string) (bool, error)      { return v.m.exists(v.gen, name) }

// genOK reports whether a call of generation gen may run. Caller holds mu.
func (m *memFS) genOK(gen int) error {
	if gen != anyGen && gen != m.gen {
		return errCrashed
	}
	return nil
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

func (m *memFS) Create(name string) (File, error)      { return m.create(anyGen, name) }
func (m *memFS) OpenRW(name string) (File, error)      { return m.openRW(anyGen, name) }
func (m *memFS) Mkdir(name string) error               { return m.mkdir(anyGen, name) }
func (m *memFS) ReadDir(name string) ([]string, error) { return m.readDir(anyGen, name) }
func (m *memFS) Remove(name string) error              { return m.remove(anyGen, name) }
func (m *memFS) Rename(o, n string) error              { return m.rename(anyGen, o, n) }
func (m *memFS) SyncDir(name string) error             { return m.syncDir(anyGen, name) }
func (m *memFS) Exists(name string) (bool, error)      { return m.exists(anyGen, name) }

func (m *memFS) create(gen int, name string) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.genOK(gen); err != nil {
		return nil, err
	}
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
	m.dirOps = append(m.dirOps, memDirOp{kind: 'c', name: name, node: n})
	return &memFile{m: m, n: n, name: name, gen: m.gen}, nil
}

func (m *memFS) openRW(gen int, name string) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.genOK(gen); err != nil {
		return nil, err
	}
	name = clean(name)
	n, ok := m.cur[name]
	if !ok || n.dir {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return &memFile{m: m, n: n, name: name, gen: m.gen}, nil
}

func (m *memFS) mkdir(gen int, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.genOK(gen); err != nil {
		return err
	}
	name = clean(name)
	if _, ok := m.cur[name]; ok {
		return &fs.PathError{Op: "mkdir", Path: name, Err: fs.ErrExist}
	}
	if p, ok := m.cur[filepath.Dir(name)]; !ok || !p.dir {
		return &fs.PathError{Op: "mkdir", Path: name, Err: fs.ErrNotExist}
	}
	n := &memNode{dir: true}
	m.cur[name] = n
	m.dirOps = append(m.dirOps, memDirOp{kind: 'c', name: name, node: n})
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

func (m *memFS) readDir(gen int, name string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.genOK(gen); err != nil {
		return nil, err
	}
	name = clean(name)
	if n, ok := m.cur[name]; !ok || !n.dir {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	return children(m.cur, name), nil
}

func (m *memFS) remove(gen int, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.genOK(gen); err != nil {
		return err
	}
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
	m.dirOps = append(m.dirOps, memDirOp{kind: 'r', name: name})
	return nil
}

func (m *memFS) rename(gen int, oldname, newname string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.genOK(gen); err != nil {
		return err
	}
	oldname, newname = clean(oldname), clean(newname)
	if m.tick() {
		return errCrashed
	}
	n, ok := m.cur[oldname]
	if !ok {
		return &fs.PathError{Op: "rename", Path: oldname, Err: fs.ErrNotExist}
	}
	if n.dir {
		// Move the subtree. The durable entries under it stay under the
		// old path until the rename itself is durable (crashLocked moves
		// them with the rename when it persists).
		moveTree(m.cur, oldname, newname)
		// Entry changes pending inside the moved directory now concern
		// the new path.
		for i := range m.dirOps {
			op := &m.dirOps[i]
			op.name = movedPath(op.name, oldname, newname)
			op.newname = movedPath(op.newname, oldname, newname)
		}
	}
	delete(m.cur, oldname)
	m.cur[newname] = n
	m.dirOps = append(m.dirOps, memDirOp{kind: 'm', name: oldname, newname: newname, node: n})
	return nil
}

// moveTree moves the entries strictly under dir old to dir new.
func moveTree(ns map[string]*memNode, old, new string) {
	for p, c := range ns {
		if strings.HasPrefix(p, old+"/") {
			delete(ns, p)
			ns[new+p[len(old):]] = c
		}
	}
}

func movedPath(p, old, new string) string {
	if strings.HasPrefix(p, old+"/") {
		return new + p[len(old):]
	}
	return p
}

func (m *memFS) syncDir(gen int, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.genOK(gen); err != nil {
		return err
	}
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
	ops := m.dirOps[:0]
	for _, op := range m.dirOps {
		if a, b := op.parents(); a != name && b != name {
			ops = append(ops, op)
		}
	}
	m.dirOps = ops
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

func (m *memFS) exists(gen int, name string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.genOK(gen); err != nil {
		return false, err
	}
	_, ok := m.cur[clean(name)]
	return ok, nil
}

// Kill simulates the death of the process: every handle and view of the
// current generation fails from now on, nothing written is lost.
func (m *memFS) Kill() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gen++
}

// Crash simulates power loss: each directory keeps its durable entries plus
// a random subset of the entry changes since its last SyncDir; each file
// keeps its synced bytes plus, for each later write, nothing, all of it or
// a random subset of its sectors.
func (m *memFS) Crash() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.crashLocked()
}

// keep decides whether one unsynced change survives the crash.
func (m *memFS) keep() bool { return !m.loseAll && m.rnd.Intn(2) == 0 }

func (m *memFS) crashLocked() {
	m.gen++
	view := map[string]*memNode{}
	for p, n := range m.durable {
		view[p] = n
	}
	for _, op := range m.dirOps {
		if m.keepDirOp != nil && !m.keepDirOp(op) || m.keepDirOp == nil && !m.keep() {
			continue
		}
		switch op.kind {
		case 'c':
			if p, ok := view[filepath.Dir(op.name)]; ok && p.dir {
				view[op.name] = op.node
			}
		case 'r':
			delete(view, op.name)
			for q := range view {
				if strings.HasPrefix(q, op.name+"/") {
					delete(view, q)
				}
			}
		case 'm':
			if p, ok := view[filepath.Dir(op.newname)]; !ok || !p.dir {
				continue
			}
			delete(view, op.name)
			if op.node.dir {
				moveTree(view, op.name, op.newname)
			}
			view[op.newname] = op.node
		}
	}
	m.dirOps = nil
	// Entries under a directory whose own entry did not persist are gone.
	for p := range view {
		for q := filepath.Dir(p); p != "/" && q != "/"; q = filepath.Dir(q) {
			if d, ok := view[q]; !ok || !d.dir {
				delete(view, p)
				break
			}
		}
	}
	seen := map[*memNode]bool{}
	for _, n := range view {
		if n.dir || seen[n] {
			continue
		}
		seen[n] = true
		data := append([]byte(nil), n.synced...)
		for _, op := range n.pending {
			if op.trunc {
				if m.keep() {
					data = resize(data, op.size)
				}
				continue
			}
			switch {
			case m.loseAll:
			case m.rnd.Intn(3) == 0: // the whole write
				data = writeAt(data, op.off, op.data)
			case m.rnd.Intn(2) == 0: // torn: some of its sectors
				for lo := op.off; lo < op.off+int64(len(op.data)); {
					hi := min((lo/sector+1)*sector, op.off+int64(len(op.data)))
					if m.rnd.Intn(2) == 0 {
						data = writeAt(data, lo, op.data[lo-op.off:hi-op.off])
					}
					lo = hi
				}
			}
		}
		n.data = data
		n.synced = append([]byte(nil), data...)
		n.pending = nil
	}
	m.durable = view
	m.cur = map[string]*memNode{}
	for p, n := range view {
		m.cur[p] = n
	}
}

// sector is the unit a torn write is made of.
const sector = 512

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
