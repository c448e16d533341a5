// Command engine is the C ABI of the queue store, built as libqueue_core.so
// with `go build -buildmode=c-shared`. ha_queue.so (the MariaDB handler and
// the SQL functions) is its only caller; queue_core.h is the contract, and
// exports.map (given to the linker by the build) limits the library's
// dynamic symbols to it.
//
// This layer holds no queue logic. It keeps registries that turn Go objects
// into uint64 handles (0 is never valid), maps core's sentinel errors to QC_*
// status codes, and recovers every panic into QC_EPANIC: the library runs
// inside mariadbd, where an unrecovered panic would end the server.
package main

func main() {}
