package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/queue-engine/queue/core"
	"github.com/queue-engine/queue/engine/rowfmt"
)

// columnMeta is one column of a row payload as the handler described it at
// CREATE TABLE (qc_column). It is persisted next to the table directory so
// the SQL functions can compile conditions without the server's TABLE; its
// file format is rowfmt's, which the offline tools read too.
type columnMeta = rowfmt.Column

const columnsSuffix = ".qcol"

// writeColumns stores cols in path+".qcol" atomically and durably through
// core's atomic replace (temp file, fsync, rename, fsync of the directory),
// on the tables' file system.
func writeColumns(path string, cols []columnMeta) error {
	data, err := json.Marshal(cols)
	if err != nil {
		return err
	}
	if err := core.WriteFileAtomic(tableFS, path+columnsSuffix, data); err != nil {
		return fmt.Errorf("queue: writing column list: %w", err)
	}
	return nil
}

// readColumns loads path+".qcol". A missing file gives no columns (tables
// created before the file existed simply cannot use conditions).
func readColumns(path string) ([]columnMeta, error) {
	data, err := os.ReadFile(path + columnsSuffix)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("queue: reading column list: %w", err)
	}
	var cols []columnMeta
	if err := json.Unmarshal(data, &cols); err != nil {
		return nil, errCode(qcECORRUPT, "queue: corrupt column list %s%s: %v", path, columnsSuffix, err)
	}
	return cols, nil
}

// removeColumns deletes path+".qcol" durably; a missing file is fine.
func removeColumns(path string) error {
	err := os.Remove(path + columnsSuffix)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("queue: removing column list: %w", err)
	}
	return syncDir(filepath.Dir(path))
}

// renameColumns moves the column list with its table; missing is fine.
func renameColumns(from, to string) error {
	err := os.Rename(from+columnsSuffix, to+columnsSuffix)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("queue: renaming column list: %w", err)
	}
	if err := syncDir(filepath.Dir(to)); err != nil {
		return err
	}
	if filepath.Dir(from) != filepath.Dir(to) {
		return syncDir(filepath.Dir(from))
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
