//go:build !queuetest

package main

// testPanic is a no-op in the production library (see testhook.go).
func testPanic(string) {}
