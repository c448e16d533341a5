package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestColumnsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "t")
	cols := []columnMeta{
		{Name: "id", Type: 3, Offset: 1, Length: 4, NullOffset: -1},
		{Name: "v", Type: 15, NullMask: 2, Offset: -1, Length: 11, NullOffset: 0},
	}
	require.NoError(t, writeColumns(path, cols))
	got, err := readColumns(path)
	require.NoError(t, err)
	require.Equal(t, cols, got)
	_, err = os.Stat(path + columnsSuffix + ".tmp")
	require.True(t, os.IsNotExist(err), "temp file left behind")

	require.NoError(t, renameColumns(path, filepath.Join(dir, "u")))
	got, err = readColumns(filepath.Join(dir, "u"))
	require.NoError(t, err)
	require.Equal(t, cols, got)
	require.NoError(t, removeColumns(filepath.Join(dir, "u")))
	require.NoError(t, removeColumns(filepath.Join(dir, "u")), "removing twice is fine")
}

func TestColumnsMissingAndCorrupt(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "t")
	got, err := readColumns(path)
	require.NoError(t, err)
	require.Nil(t, got)

	require.NoError(t, os.WriteFile(path+columnsSuffix, []byte("{not json"), 0o600))
	_, err = readColumns(path)
	require.Error(t, err)
	require.Equal(t, qcECORRUPT, codeOf(err))
	require.Contains(t, err.Error(), path+columnsSuffix)
}

func TestNormPath(t *testing.T) {
	require.Equal(t, "./db/t", normPath("./db/t"))
	require.Equal(t, "./db/t", normPath("db/t"))
	require.Equal(t, "./db/t", normPath("./db//t"))
	require.Equal(t, "/abs/db/t", normPath("/abs/db/t"))
	require.Equal(t, "./db/t", pathOfDir(tableDir("./db/t")))
}

func TestRegistry(t *testing.T) {
	r := newRegistry[string]()
	a, b := r.add("a"), r.add("b")
	require.NotZero(t, a)
	require.NotEqual(t, a, b)
	v, ok := r.get(a)
	require.True(t, ok)
	require.Equal(t, "a", v)
	_, ok = r.take(a)
	require.True(t, ok)
	_, ok = r.get(a)
	require.False(t, ok, "a taken handle is stale")
	c := r.add("c")
	require.NotEqual(t, a, c, "handles are never reused")
	require.Equal(t, 2, r.len())
	_, ok = r.get(0)
	require.False(t, ok, "0 is never valid")
}
