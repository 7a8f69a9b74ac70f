//go:build unix

package main

import (
	"os"
	"syscall"
)

// forwardedSignals are the signals exec passes on to the command.
var forwardedSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT}

// shouldForward says whether to pass s on. A Ctrl-C or Ctrl-\ typed at a
// terminal already reaches the command, which shares the terminal's
// foreground process group; passing it on too would deliver it twice.
// Sent with kill to siteverify alone (CI, a script), it must be passed on.
func shouldForward(s os.Signal) bool {
	if s == syscall.SIGINT || s == syscall.SIGQUIT {
		return !isTerminal(os.Stdin)
	}
	return true
}
