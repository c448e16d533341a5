package core

// background runs compaction when removals make it worthwhile.
func (t *Table) background() {
	defer close(t.bgDone)
	for {
		select {
		case <-t.bgStop:
			return
		case <-t.bgKick:
			_ = t.compact()
		}
	}
}

// kickCompaction asks the background goroutine to look for work.
func (t *Table) kickCompaction() {
	select {
	case t.bgKick <- struct{}{}:
	default:
	}
}

// Compact runs a compaction now (queue_compact); normally it runs in the background.
func (t *Table) Compact() (err error) {
	defer recoverError(&err)
	return t.compact()
}

func (t *Table) compact() error { return nil }
