package procnet

import (
	"net"
	"os"
	"slices"
	"testing"
)

func TestListeners(t *testing.T) {
	for _, network := range []string{"tcp4", "tcp6"} {
		addr := "127.0.0.1:0"
		if network == "tcp6" {
			addr = "[::1]:0"
		}
		ln, err := net.Listen(network, addr)
		if err != nil {
			t.Logf("%s: %v (no IPv6 loopback here?)", network, err)
			if network == "tcp6" {
				continue
			}
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		if got := Listeners(port); !slices.Equal(got, []int{os.Getpid()}) {
			t.Errorf("%s listener on port %d: Listeners = %v, want [%d]", network, port, got, os.Getpid())
		}
		// A connection to it is not a listener.
		c, err := net.Dial(network, ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if got := Listeners(c.LocalAddr().(*net.TCPAddr).Port); got != nil {
			t.Errorf("%s: the client end's port has listeners %v", network, got)
		}
		c.Close()
		ln.Close()
		if got := Listeners(port); got != nil {
			t.Errorf("%s: after Close, Listeners(%d) = %v", network, port, got)
		}
	}
}
