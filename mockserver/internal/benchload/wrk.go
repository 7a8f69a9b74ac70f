package main

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

//go:embed bodies.lua
var bodiesScript []byte

// wrkRunner runs wrk with the bodies script.
type wrkRunner struct {
	bin                  string
	dir                  string
	threads, connections int
}

// wrkResult is what the script's done() prints.
type wrkResult struct {
	requests, durationUS, bytes           int64
	connect, read, write, status, timeout int64
	p50, p90, p99, max                    int64 // microseconds
}

func (r wrkResult) rps() float64 {
	if r.durationUS == 0 {
		return 0
	}
	return float64(r.requests) / (float64(r.durationUS) / 1e6)
}

func (r wrkResult) errors() int64 { return r.connect + r.read + r.write + r.status + r.timeout }

// writeBodies writes the form bodies for tokens, dealt round-robin into
// one file per wrk thread: <dir>/<name>.<thread>.
func (w *wrkRunner) writeBodies(name string, tokens []string) error {
	files := make([]*bufio.Writer, w.threads)
	closers := make([]*os.File, w.threads)
	for i := range files {
		f, err := os.Create(filepath.Join(w.dir, fmt.Sprintf("%s.%d", name, i)))
		if err != nil {
			return err
		}
		closers[i], files[i] = f, bufio.NewWriterSize(f, 1<<20)
	}
	for i, tok := range tokens {
		// Tokens are base64url: no escaping needed in a form body.
		fmt.Fprintf(files[i%w.threads], "secret=%s&response=%s\n", benchSecret, tok)
	}
	for i := range files {
		if err := files[i].Flush(); err != nil {
			return err
		}
		if err := closers[i].Close(); err != nil {
			return err
		}
	}
	return nil
}

// removeBodies deletes the body files written under name.
func (w *wrkRunner) removeBodies(name string) error {
	for i := range w.threads {
		if err := os.Remove(filepath.Join(w.dir, fmt.Sprintf("%s.%d", name, i))); err != nil {
			return err
		}
	}
	return nil
}

// run runs wrk against url with the bodies in <dir>/<bodies>.* for d.
func (w *wrkRunner) run(ctx context.Context, url, bodies string, d time.Duration) (wrkResult, error) {
	script := filepath.Join(w.dir, "bodies.lua")
	if err := os.WriteFile(script, bodiesScript, 0o600); err != nil {
		return wrkResult{}, err
	}
	cmd := exec.CommandContext(ctx, w.bin,
		"--threads", strconv.Itoa(w.threads), "--connections", strconv.Itoa(w.connections),
		"--duration", fmt.Sprintf("%ds", int(d.Seconds())), "--timeout", "5s",
		"--script", script, url, "--", filepath.Join(w.dir, bodies))
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %w\n%s%s", err, &out, &errOut)
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if rest, ok := strings.CutPrefix(line, "BENCHLOAD "); ok {
			return parseResult(rest)
		}
	}
	return wrkResult{}, fmt.Errorf("wrk printed no BENCHLOAD line:\n%s%s", &out, &errOut)
}

func parseResult(s string) (wrkResult, error) {
	var r wrkResult
	fields := map[string]*int64{
		"requests": &r.requests, "duration_us": &r.durationUS, "bytes": &r.bytes,
		"connect": &r.connect, "read": &r.read, "write": &r.write, "status": &r.status, "timeout": &r.timeout,
		"p50_us": &r.p50, "p90_us": &r.p90, "p99_us": &r.p99, "max_us": &r.max,
	}
	for _, kv := range strings.Fields(s) {
		k, v, _ := strings.Cut(kv, "=")
		dst, ok := fields[k]
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return r, fmt.Errorf("wrk result %q: %w", kv, err)
		}
		*dst = n
	}
	if r.requests == 0 {
		return r, fmt.Errorf("wrk made no requests: %s", s)
	}
	return r, nil
}
