package core

import (
	"fmt"
	"sync"
	"testing"
)

// TestMemFSOperationsAtomicWithCrash: an operation through a view either
// happens before a crash (and is subject to it) or fails; it never runs
// against the file system of the next generation. Otherwise a process that
// was "killed" keeps creating and deleting files after its death.
func TestMemFSOperationsAtomicWithCrash(t *testing.T) {
	for iter := 0; iter < 300; iter++ {
		m := newMemFS(int64(iter))
		m.MkdirAll("/d")
		m.loseAll = true
		v := m.View()
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				if _, err := v.Create(fmt.Sprintf("/d/f%d", i)); err != nil {
					return
				}
			}
		}()
		for i := 0; i < iter%50; i++ {
			_, _ = m.Exists("/d")
		}
		m.Crash()
		wg.Wait()
		names, err := m.ReadDir("/d")
		if err != nil {
			t.Fatal(err)
		}
		if len(names) != 0 {
			t.Fatalf("iteration %d: %d files created after the crash (none was dir-synced before it): %v", iter, len(names), names[:min(3, len(names))])
		}
	}
}
