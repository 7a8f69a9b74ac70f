//go:build unix

package suite

import (
	"os/exec"
	"syscall"
)

// prepareCmd starts cmd in a new process group whose ID is its PID, and,
// where the system supports it, has the kernel kill it if the harness dies
// first (killed, or SIGPIPE on a closed stdout) so it cannot outlive the
// run; on Linux it also makes the harness a child subreaper (see
// becomeSubreaper).
func prepareCmd(cmd *exec.Cmd) {
	attr := &syscall.SysProcAttr{Setpgid: true}
	setParentDeathSignal(attr)
	cmd.SysProcAttr = attr
	becomeSubreaper()
}

func signalFor(kill bool) syscall.Signal {
	if kill {
		return syscall.SIGKILL
	}
	return syscall.SIGTERM
}
