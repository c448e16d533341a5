package core

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// FS is the file-system seam: production uses the OS, tests use an in-memory
// crashable implementation that keeps only synced bytes and names.
type FS interface {
	// Create makes a new file (O_EXCL) open for reading and writing.
	Create(name string) (File, error)
	// OpenRW opens an existing file for reading and writing.
	OpenRW(name string) (File, error)
	// Mkdir creates a directory (not its parents).
	Mkdir(name string) error
	// ReadDir lists the names in a directory.
	ReadDir(name string) ([]string, error)
	// Remove deletes a file or an empty directory.
	Remove(name string) error
	// Rename renames a file or directory, replacing a file target.
	Rename(oldname, newname string) error
	// SyncDir makes the directory's entries durable.
	SyncDir(name string) error
	// Exists reports whether name exists.
	Exists(name string) (bool, error)
}

// File is an open file of an FS.
type File interface {
	ReadAt(p []byte, off int64) (int, error)
	WriteAt(p []byte, off int64) (int, error)
	// Sync makes written data durable (fdatasync).
	Sync() error
	// Size is the current file size.
	Size() (int64, error)
	// Truncate sets the file size.
	Truncate(size int64) error
	// Allocate reserves space for [off, off+n) without changing the
	// contents visible to readers (fallocate with KEEP_SIZE when supported).
	Allocate(off, n int64) error
	Close() error
}

// OSFS is the real file system.
//
// With SetSyncOff(true) its Sync and SyncDir do nothing: the bytes written
// are the same, only their durability is given up (tests and benchmarks
// that do not need it). Nothing else changes, so files written that way
// are ordinary table files.
type OSFS struct{}

// syncOff makes OSFS skip fdatasync and directory fsync (SetSyncOff).
var syncOff atomic.Bool

// SetSyncOff turns file and directory syncs of OSFS off (true) or back on.
// With syncs off, a crash of the machine (not of the process: the page
// cache survives that) may lose acknowledged rows or leave table files that
// recovery refuses.
func SetSyncOff(off bool) { syncOff.Store(off) }

// SyncOff reports whether syncs are off (SetSyncOff).
func SyncOff() bool { return syncOff.Load() }

type osFile struct{ f *os.File }

func (OSFS) Create(name string) (File, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (OSFS) OpenRW(name string) (File, error) {
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (OSFS) Mkdir(name string) error { return os.Mkdir(name, 0o755) }

func (OSFS) ReadDir(name string) ([]string, error) {
	ents, err := os.ReadDir(name)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = e.Name()
	}
	return names, nil
}

func (OSFS) Remove(name string) error             { return os.Remove(name) }
func (OSFS) Rename(oldname, newname string) error { return os.Rename(oldname, newname) }

func (OSFS) SyncDir(name string) error {
	if syncOff.Load() {
		return nil
	}
	d, err := os.Open(name)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

func (OSFS) Exists(name string) (bool, error) {
	_, err := os.Stat(name)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return false, err
}

func (f osFile) ReadAt(p []byte, off int64) (int, error)  { return f.f.ReadAt(p, off) }
func (f osFile) WriteAt(p []byte, off int64) (int, error) { return f.f.WriteAt(p, off) }

func (f osFile) Sync() error {
	if syncOff.Load() {
		return nil
	}
	for {
		err := unix.Fdatasync(int(f.f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}

func (f osFile) Size() (int64, error) {
	st, err := f.f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

func (f osFile) Truncate(size int64) error { return f.f.Truncate(size) }

func (f osFile) Allocate(off, n int64) error {
	err := unix.Fallocate(int(f.f.Fd()), unix.FALLOC_FL_KEEP_SIZE, off, n)
	if err == unix.EOPNOTSUPP || err == unix.ENOSYS {
		return nil // best effort: the write path still works without it
	}
	return err
}

func (f osFile) Close() error { return f.f.Close() }

// removeAll deletes dir and the files directly in it (a table directory has
// no subdirectories of ours; foreign subdirectories make it fail).
func removeAll(fsys FS, dir string) error {
	names, err := fsys.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	for _, n := range names {
		if err := fsys.Remove(filepath.Join(dir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := fsys.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// WriteFileAtomic replaces the file path with data durably: it writes
// path+".tmp", fsyncs it, renames it over path and fsyncs the directory.
// A crash at any point leaves path with either its old contents or data,
// never a mix, plus possibly the temp file (which the next write removes).
// fsys nil means the real file system. Errors carry ErrNoSpace or ErrIO
// with the file name.
func WriteFileAtomic(fsys FS, path string, data []byte) (err error) {
	defer recoverError(&err)
	if fsys == nil {
		fsys = OSFS{}
	}
	f, _, err := replaceFile(fsys, path, nil, func(f File, tmp string) error {
		if _, err := f.WriteAt(data, 0); err != nil {
			return classifyWriteError(tmp, 0, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return fileError(ErrIO, path, 0, err)
	}
	return nil
}

// replaceFile is the one way a file is replaced durably: fill writes
// name+".tmp" (created fresh), which is then fsynced, renamed over name,
// and the directory fsynced. Until the rename, a crash leaves the old file
// and a temp file (recovery deletes "*.tmp" files of a table); the rename
// is atomic, and the directory fsync makes it durable before replaceFile
// returns. It returns the new file, open. On failure nothing is left open;
// the temp file is deleted if the rename has not happened, and renamed
// reports whether it had (name then holds the new contents, durably or
// not). step (nil: none)
// is called with the name of each step reached (synced-temp, before-rename,
// renamed); an error from it stops there like a failure (tests).
func replaceFile(fsys FS, name string, step func(string) error, fill func(f File, tmp string) error) (_ File, renamed bool, _ error) {
	tmp := name + tmpSuffix
	if step == nil {
		step = func(string) error { return nil }
	}
	_ = fsys.Remove(tmp) // left by an earlier failure or crash
	f, err := fsys.Create(tmp)
	if err != nil {
		return nil, false, classifyWriteError(tmp, 0, err)
	}
	fail := func(err error) (File, bool, error) {
		_ = f.Close()
		if !renamed {
			_ = fsys.Remove(tmp)
		}
		return nil, renamed, err
	}
	if err := fill(f, tmp); err != nil {
		return fail(err)
	}
	if err := step("synced-temp"); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(fileError(ErrIO, tmp, 0, err))
	}
	if err := step("before-rename"); err != nil {
		return fail(err)
	}
	if err := fsys.Rename(tmp, name); err != nil {
		return fail(fileError(ErrIO, name, 0, err))
	}
	renamed = true
	if err := step("renamed"); err != nil {
		return fail(err)
	}
	if err := fsys.SyncDir(filepath.Dir(name)); err != nil {
		return fail(fileError(ErrIO, filepath.Dir(name), 0, err))
	}
	return f, true, nil
}
