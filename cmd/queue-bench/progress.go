package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// progress shows one line per step on stderr. On a terminal the line is
// rewritten in place with the current rate; otherwise only the finished
// line is printed, so logs stay readable.
type progress struct {
	mu    sync.Mutex // guards everything below; workers never call in
	w     io.Writer
	tty   bool
	step  int
	total int
	label string
}

func newProgress(w *os.File, total int) *progress {
	_, err := unix.IoctlGetTermios(int(w.Fd()), unix.TCGETS)
	return &progress{w: w, tty: err == nil, total: total}
}

func (p *progress) begin(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.step++
	p.label = fmt.Sprintf("[%d/%d] ", p.step, p.total) + fmt.Sprintf(format, args...)
	p.draw(p.label)
}

func (p *progress) status(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.draw(p.label + "  " + fmt.Sprintf(format, args...))
}

func (p *progress) rate(n int64, elapsed time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := 0.0
	if elapsed > 0 {
		r = float64(n) / elapsed.Seconds()
	}
	p.draw(fmt.Sprintf("%s  %d msgs, %.0f/s", p.label, n, r))
}

func (p *progress) end(summary string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	line := p.label + "  " + summary
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s\n", line)
	} else {
		fmt.Fprintln(p.w, line)
	}
}

func (p *progress) note(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
	fmt.Fprintf(p.w, format+"\n", args...)
}

func (p *progress) draw(line string) {
	if !p.tty {
		return
	}
	line = strings.ReplaceAll(line, "\n", " ")
	fmt.Fprintf(p.w, "\r\033[K%s", line)
}
