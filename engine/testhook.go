//go:build queuetest

package main

import "os"

// testPanicAt names an exported function that panics on purpose, so the C
// driver test can check that panics become QC_EPANIC. Only libraries built
// with -tags queuetest have it; it is read from the environment once.
var testPanicAt = os.Getenv("QUEUE_CORE_TEST_PANIC")

func testPanic(fn string) {
	if testPanicAt != "" && testPanicAt == fn {
		panic("forced panic in " + fn + " (QUEUE_CORE_TEST_PANIC)")
	}
}
