package core

// FS is the file-system seam: production uses the OS, tests use an in-memory
// crashable implementation that keeps only synced bytes.
type FS interface{}
