//go:build unix && !linux

package suite

import "syscall"

func setParentDeathSignal(*syscall.SysProcAttr) {}
