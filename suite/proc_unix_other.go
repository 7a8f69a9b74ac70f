//go:build unix && !linux

package suite

import (
	"errors"
	"syscall"
)

func setParentDeathSignal(*syscall.SysProcAttr) {}

func becomeSubreaper() {}

// procTree is a started backend's process group. Without Linux's /proc
// and subreaper, descendants that leave the group are not found.
type procTree struct{ pid int }

func newProcTree(pid int, _ string) *procTree { return &procTree{pid: pid} }

// signal sends SIGTERM (or SIGKILL) to the process group.
func (t *procTree) signal(kill bool) { _ = syscall.Kill(-t.pid, signalFor(kill)) }

// alive reports whether any process of the group remains.
func (t *procTree) alive() bool {
	return !errors.Is(syscall.Kill(-t.pid, 0), syscall.ESRCH)
}

// takenBy: without /proc, who holds a port is not known.
func (t *procTree) takenBy(int) (string, bool) { return "", false }
