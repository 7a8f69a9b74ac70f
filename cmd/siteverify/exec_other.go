//go:build !unix

package main

import "os"

// forwardedSignals are the signals exec passes on to the command; on this
// platform the console delivers Ctrl-C to the command itself.
var forwardedSignals = []os.Signal{}

func shouldForward(os.Signal) bool { return false }
