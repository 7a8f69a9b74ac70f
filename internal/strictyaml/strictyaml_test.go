package strictyaml

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
)

// aliasBomb is the file from the hardening report: a node of n items and
// refs references to it, about 10 bytes per item and per reference.
func aliasBomb(n, refs int) []byte {
	var b strings.Builder
	b.WriteString("base: &a [")
	b.WriteString(strings.TrimSuffix(strings.Repeat("x, ", n), ", "))
	b.WriteString("]\nmany: [")
	b.WriteString(strings.TrimSuffix(strings.Repeat("*a, ", refs), ", "))
	b.WriteString("]\n")
	return []byte(b.String())
}

// allocated runs f and returns the bytes it allocated.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestParseAliasBomb(t *testing.T) {
	data := aliasBomb(20000, 20000)
	if len(data) > 200<<10 {
		t.Fatalf("bomb is %d bytes", len(data))
	}
	var d Decoder
	start := time.Now()
	alloc := allocated(func() {
		if d.Parse(data) != nil {
			t.Error("the bomb parsed")
		}
	})
	if len(d.Problems) != 1 || !strings.Contains(d.Problems[0].Msg, fmt.Sprintf("more than %d values once aliases are expanded (the limit)", MaxNodes)) {
		t.Errorf("problems = %+v", d.Problems)
	}
	// The file as written is 40 000 nodes; a walk through the aliases
	// would be 400 000 000. Parsing the text is all that may cost.
	if alloc > 64<<20 {
		t.Errorf("rejecting a %d-byte bomb allocated %d MiB", len(data), alloc>>20)
	}
	t.Logf("%d-byte alias bomb rejected in %v, %d KiB allocated", len(data), time.Since(start), alloc>>10)
}

func TestParseAliasPolicy(t *testing.T) {
	// Just under and just over the limit, counting each alias as its node:
	// the top mapping, and 64 keys each with a list of n items.
	file := func(n int) []byte {
		var b strings.Builder
		fmt.Fprintf(&b, "k0: &a [%s]\n", strings.TrimSuffix(strings.Repeat("1,", n), ","))
		for i := 1; i < 64; i++ {
			fmt.Fprintf(&b, "k%d: *a\n", i)
		}
		return []byte(b.String())
	}
	var d Decoder
	if d.Parse(file(MaxNodes/64-3)) == nil { // 1 + 64*(1+n+1) = MaxNodes-63
		t.Errorf("a file under the limit refused: %+v", d.Problems)
	}
	d = Decoder{}
	if d.Parse(file(MaxNodes/64-2)) != nil || len(d.Problems) != 1 || d.Problems[0].Line != 64 { // MaxNodes+1
		t.Errorf("a file one node over the limit: problems %+v, want one on line 64", d.Problems)
	}
	// Nested anchors are counted once each, however deep.
	var b strings.Builder
	b.WriteString("l0: &l0 [x, x]\n")
	for i := 1; i <= 30; i++ {
		fmt.Fprintf(&b, "l%d: &l%d [*l%d, *l%d]\n", i, i, i-1, i-1)
	}
	d = Decoder{}
	if d.Parse([]byte(b.String())) != nil || len(d.Problems) != 1 {
		t.Errorf("billion laughs: %+v", d.Problems)
	}
	// A node that contains an alias to itself.
	d = Decoder{}
	if d.Parse([]byte("a: &a [1, *a]\n")) != nil || len(d.Problems) != 1 || !strings.Contains(d.Problems[0].Msg, "names a node that contains it") {
		t.Errorf("self-reference: %+v", d.Problems)
	}
	// Ordinary aliases and merge keys are fine.
	d = Decoder{}
	if d.Parse([]byte("base: &b {x: 1}\nm: {<<: *b, y: 2}\nl: [*b, *b]\n")) == nil || !d.Empty() {
		t.Errorf("ordinary aliases: %+v", d.Problems)
	}
}

func TestParseSize(t *testing.T) {
	var d Decoder
	data := []byte("# " + strings.Repeat("x", MaxFileSize) + "\n")
	if d.Parse(data) != nil || len(d.Problems) != 1 || d.Problems[0].Msg != "the file is larger than 4194304 bytes (4 MiB); trim it or split it" {
		t.Errorf("problems = %+v", d.Problems)
	}
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, make([]byte, MaxFileSize+100), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, want string }{
		{"/dev/zero", "/dev/zero is a device; give the path of a YAML file (at most 4194304 bytes)"},
		{fifo, fifo + " is a named pipe"},
		{dir, dir + " is a directory"},
	} {
		done := make(chan error, 1)
		go func() { _, err := ReadFile(c.path); done <- err }()
		select {
		case err := <-done:
			if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: %v", c.path, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: ReadFile still running after 10s", c.path)
		}
	}
	data, err := ReadFile(big)
	if err != nil || len(data) != MaxFileSize+1 {
		t.Errorf("big file: %d bytes, %v; want the limit plus one byte", len(data), err)
	}
	if _, err := ReadFile(filepath.Join(dir, "missing.yaml")); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
}
