package core

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
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
type OSFS struct{}

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
