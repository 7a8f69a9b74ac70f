//go:build !unix

package suite

import (
	"os"
	"os/exec"
)

func prepareCmd(*exec.Cmd) {}

// procTree is a started backend's main process: without process groups,
// what it spawns is not found.
type procTree struct{ p *os.Process }

func newProcTree(pid int, _ string) *procTree {
	p, _ := os.FindProcess(pid)
	return &procTree{p: p}
}

func (t *procTree) signal(bool) {
	if t.p != nil {
		_ = t.p.Kill()
	}
}

func (t *procTree) alive() bool { return false }

// takenBy: without /proc, who holds a port is not known.
func (t *procTree) takenBy(int) (string, bool) { return "", false }
