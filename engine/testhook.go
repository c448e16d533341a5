package main

import "os"

// testPanicAt names an exported function that panics on purpose, so the C
// driver test can check that panics become QC_EPANIC. It is read from the
// environment once at load; production never sets it.
var testPanicAt = os.Getenv("QUEUE_CORE_TEST_PANIC")

func testPanic(fn string) {
	if testPanicAt != "" && testPanicAt == fn {
		panic("forced panic in " + fn + " (QUEUE_CORE_TEST_PANIC)")
	}
}
