package target

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/siteverify/siteverify/internal/strictyaml"
)

// allocated runs f and returns the bytes it allocated.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestLoadAliasBomb is the hardening report's file: 20 000 references to
// one endpoint with 20 000 hostnames. Before the alias policy, the field
// checker walked every reference and recorded a line per path (3 GB after
// 69 s); now Parse refuses it before any walk.
func TestLoadAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("kind: v3\nsitekey: a\nsecret: b\nendpoints:\n  - &e {url: 'http://x/', action: a, hostnames: [")
	b.WriteString(strings.TrimSuffix(strings.Repeat("h, ", 20000), ", "))
	b.WriteString("]}\n")
	b.WriteString(strings.Repeat("  - *e\n", 20000))
	path := filepath.Join(t.TempDir(), "bomb.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	var err error
	start := time.Now()
	alloc := allocated(func() { _, err = Load(path) })
	var es Errors
	if !errors.As(err, &es) || len(es) != 1 {
		t.Fatalf("got %v; want one problem", err)
	}
	want := fmt.Sprintf("more than %d values once aliases are expanded (the limit)", strictyaml.MaxNodes)
	if !strings.HasPrefix(err.Error(), path+":") || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v; want the file and %q", err, want)
	}
	if alloc > 64<<20 {
		t.Errorf("refusing a %d KB file allocated %d MiB", b.Len()>>10, alloc>>20)
	}
	t.Logf("%d KB bomb refused in %v with %d MiB allocated: %v", b.Len()>>10, time.Since(start), alloc>>20, err)
}

// TestLoadNotAFile checks that what is not a regular file, or is too
// large, fails fast with a message naming it: `--target /dev/zero` used to
// read without end, and a FIFO blocked in open.
func TestLoadNotAFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, []byte("# "+strings.Repeat("x", strictyaml.MaxFileSize)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, want string }{
		{"/dev/zero", "read target file: /dev/zero is a device; give the path of a YAML file (at most 4194304 bytes)"},
		{fifo, "read target file: " + fifo + " is a named pipe"},
		{dir, "read target file: " + dir + " is a directory"},
		{big, big + ": the file is larger than 4194304 bytes (4 MiB); trim it or split it"},
	} {
		done := make(chan error, 1)
		go func() { _, err := Load(c.path); done <- err }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: got %v, want %q", c.path, err, c.want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: Load still running after 10s", c.path)
		}
	}
}
