package fixturefile_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/siteverify/siteverify/mockserver/fixturefile"
)

// TestLoadAliasBomb: 5000 named tokens share one spec of 2000 unknown
// fields. The walk used to visit every field of every copy (ten million
// lookups and suggestions); the alias policy refuses the file before any
// walk, with bounded memory.
func TestLoadAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("x: &s {")
	for i := range 2000 {
		fmt.Fprintf(&b, "f%d: 1, ", i)
	}
	b.WriteString("}\ntokens:\n")
	for i := range 5000 {
		fmt.Fprintf(&b, "  - {token: t%d, spec: *s}\n", i)
	}
	path := filepath.Join(t.TempDir(), "bomb.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	_, err := fixturefile.Load(path)
	runtime.ReadMemStats(&after)
	var fe *fixturefile.Error
	if !errors.As(err, &fe) || fe.File != path || !strings.Contains(fe.Msg, "values once aliases are expanded (the limit)") {
		t.Fatalf("got %v; want the alias limit", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
		t.Errorf("refusing a %d KB file allocated %d MiB", b.Len()>>10, alloc>>20)
	}
	t.Logf("refused in %v: %v", time.Since(start), err)
}

func TestLoadNotAFile(t *testing.T) {
	done := make(chan error, 1)
	go func() { _, err := fixturefile.Load("/dev/zero"); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "read fixtures: /dev/zero is a device") {
			t.Errorf("got %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Load(/dev/zero) still running after 10s")
	}
}
