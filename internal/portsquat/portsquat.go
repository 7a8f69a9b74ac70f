// Package portsquat plays, in tests, the other program that takes a
// backend's port before the backend binds it: it waits for a file in which
// a slow-starting test backend writes its port, then listens there first.
package portsquat

import (
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// TakeWhenWritten waits, in a goroutine, up to 30 s for file to name a
// port, then listens on 127.0.0.1 at that port and serves h there until
// the test ends. The channel receives the port once it is taken; it is
// closed without a value, and the test marked failed, if that fails.
func TakeWhenWritten(t testing.TB, file string, h http.Handler) <-chan string {
	taken := make(chan string, 1)
	go func() {
		defer close(taken)
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			b, _ := os.ReadFile(file)
			port := strings.TrimSpace(string(b))
			if port == "" {
				continue
			}
			ln, err := net.Listen("tcp", "127.0.0.1:"+port)
			if err != nil {
				t.Errorf("take port %s: %v", port, err)
				return
			}
			srv := &http.Server{Handler: h}
			go srv.Serve(ln)
			t.Cleanup(func() { srv.Close() })
			taken <- port
			return
		}
		t.Errorf("no port in %s within 30 s", file)
	}()
	return taken
}
