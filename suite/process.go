package suite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/siteverify/siteverify/suite/target"
)

// maxOutputBytes is how much of a started backend's output is kept.
const maxOutputBytes = 256 << 10

// process is a backend the harness started.
type process struct {
	cmd         *exec.Cmd
	out         *tailBuffer
	done        chan struct{}
	waitErr     error
	stopTimeout time.Duration
}

// startProcess starts the backend as st describes, in its own process group
// (so stopping it also stops what it spawned, as `go run` or a shell does).
func startProcess(st *target.Start, baseDir string, environ []string, tee io.Writer) (*process, error) {
	dir := st.Dir
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(baseDir, dir)
	}
	env := mergeEnv(environ, st.Env)
	name := st.Command[0]
	switch {
	case strings.ContainsRune(name, filepath.Separator) || strings.ContainsRune(name, '/'):
		if !filepath.IsAbs(name) {
			name = filepath.Join(dir, name)
		}
	default:
		// Look the program up in the PATH the backend gets (start.env may
		// set it), not only the harness's.
		if p, err := lookPathIn(name, envValue(env, "PATH")); err == nil {
			name = p
		}
	}
	cmd := exec.Command(name, st.Command[1:]...)
	cmd.Dir = dir
	cmd.Env = env
	p := &process{cmd: cmd, out: &tailBuffer{max: maxOutputBytes}, done: make(chan struct{}), stopTimeout: st.StopTimeout.D()}
	var w io.Writer = p.out
	if tee != nil {
		w = io.MultiWriter(p.out, tee)
	}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.WaitDelay = p.stopTimeout
	setProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start backend %q (start.command, in %s): %w", strings.Join(st.Command, " "), dir, err)
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func mergeEnv(base []string, extra map[string]string) []string {
	out := make([]string, 0, len(base)+len(extra))
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if _, override := extra[k]; !override {
			out = append(out, kv)
		}
	}
	for k, v := range extra {
		out = append(out, k+"="+v)
	}
	return out
}

func envValue(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v = val // the last one wins, as for exec
		}
	}
	return v
}

// lookPathIn finds an executable named name in the directories of path.
func lookPathIn(name, path string) (string, error) {
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return exec.LookPath(name)
}

// waitReady polls readyURL (or, without one, the port) until the backend
// answers, the process exits, or ctx ends.
func (p *process) waitReady(ctx context.Context, readyURL string, port int) error {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	what := "start.ready_url " + readyURL
	if readyURL == "" {
		what = "port " + strconv.Itoa(port)
	}
	last := "no attempt yet"
	for {
		select {
		case <-p.done:
			return fmt.Errorf("backend exited before it was ready (%v); its output:\n%s", p.waitErr, indent(p.out.String()))
		case <-ctx.Done():
			return fmt.Errorf("backend not ready (waiting for %s: %s) before the timeout (start.ready_timeout); its output:\n%s", what, last, indent(p.out.String()))
		case <-tick.C:
		}
		if readyURL == "" {
			c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
			if err == nil {
				c.Close()
				return nil
			}
			last = err.Error()
			continue
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, readyURL, nil)
		if err != nil {
			return fmt.Errorf("start.ready_url: %w", err)
		}
		resp, err := client.Do(req)
		if err != nil {
			last = err.Error()
			continue
		}
		resp.Body.Close()
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			return nil
		}
		last = "HTTP " + strconv.Itoa(resp.StatusCode)
	}
}

// stop asks the backend's process group to exit, and kills it after the
// stop timeout.
func (p *process) stop() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	_ = terminate(p.cmd)
	t := time.NewTimer(p.stopTimeout)
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-t.C:
	}
	_ = kill(p.cmd)
	select {
	case <-p.done:
	case <-time.After(p.stopTimeout + time.Second):
		return errors.New("backend did not exit after SIGKILL")
	}
	return fmt.Errorf("backend did not exit within %v (start.stop_timeout) and was killed", p.stopTimeout)
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return "    (no output)"
	}
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu      sync.Mutex
	max     int
	buf     []byte
	dropped int
}

// Write appends p, dropping the oldest bytes beyond max.
func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.dropped += over
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

// String returns what is kept, noting how much was dropped.
func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dropped > 0 {
		return fmt.Sprintf("[%d earlier bytes dropped]\n%s", b.dropped, b.buf)
	}
	return string(b.buf)
}
