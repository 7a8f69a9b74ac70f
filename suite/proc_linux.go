package suite

import "syscall"

// setParentDeathSignal makes Linux send SIGKILL to the backend when the
// thread that started it exits; the Go runtime keeps its threads alive, so
// in practice that is when the harness process dies.
func setParentDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
