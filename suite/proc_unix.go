//go:build unix

package suite

import (
	"os/exec"
	"syscall"
)

// setProcessGroup starts cmd in a new process group whose ID is its PID,
// and, where the system supports it, has the kernel kill it if the harness
// dies first (killed, or SIGPIPE on a closed stdout) so it cannot outlive
// the run.
func setProcessGroup(cmd *exec.Cmd) {
	attr := &syscall.SysProcAttr{Setpgid: true}
	setParentDeathSignal(attr)
	cmd.SysProcAttr = attr
}

// terminate sends SIGTERM to the process group the harness started.
func terminate(cmd *exec.Cmd) error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }

// kill sends SIGKILL to the process group the harness started.
func kill(cmd *exec.Cmd) error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
