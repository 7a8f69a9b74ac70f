package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
)

// progress shows "what is running now" on one rewritten terminal line for
// runs that take more than a moment. It writes nothing when its output is
// not a terminal (CI logs, pipes), where the final report says it all.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	on    bool
	width int // length of the line on screen, to blank it out
}

func newProgress(w io.Writer) *progress {
	return &progress{w: w, on: isTerminal(w)}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// step shows "[label n/m] what".
func (p *progress) step(label string, n, m int, what string) {
	if p == nil || !p.on {
		return
	}
	line := fmt.Sprintf("[%s %d/%d] %s", label, n, m, what)
	if len(line) > 100 {
		line = line[:99] + "…"
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	pad := ""
	if p.width > len(line) {
		pad = strings.Repeat(" ", p.width-len(line))
	}
	fmt.Fprintf(p.w, "\r%s%s", line, pad)
	p.width = len(line)
}

// clear removes the progress line, before ordinary output.
func (p *progress) clear() {
	if p == nil || !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.width > 0 {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.width))
		p.width = 0
	}
}
