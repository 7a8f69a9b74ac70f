package suite

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
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

// BackendMarkerEnv is the environment variable the harness sets in a started
// backend's environment, with a value unique to that start. Every process
// the backend spawns inherits it (unless it clears its environment), which
// is how the harness finds and kills descendants that left the backend's
// process group; `grep -l SITEVERIFY_BACKEND_RUN= /proc/*/environ` finds
// them by hand.
const BackendMarkerEnv = "SITEVERIFY_BACKEND_RUN"

// minStopGrace is the least a backend gets between SIGTERM and SIGKILL when
// the run's deadline has already passed, so a well-behaved backend can
// still exit cleanly; the run overshoots its deadline by at most this much.
const minStopGrace = 200 * time.Millisecond

// process is one start of a backend by the harness: its main process and
// everything it spawns (its process group and, on Linux, every process
// carrying its marker).
type process struct {
	cmd         *exec.Cmd
	out         *tailBuffer
	outR        *os.File      // read end of the backend's stdout/stderr pipe
	outDone     chan struct{} // closed when the output copier ends
	done        chan struct{} // closed when the main process has exited
	waitErr     error         // the main process's exit, valid after done
	stopTimeout time.Duration
	outStart    int64               // out.total() when this start began
	redact      func(string) string // applied to output quoted in errors; nil: none
	tree        *procTree
	stopOnce    sync.Once
	stopErr     error
}

// startProcess starts the backend as st describes, in its own process group
// (so stopping it also stops what it spawned, as `go run` or a shell does).
// Its output goes to out (bounded) and, if set, to tee. A non-nil wrap runs
// it in its own mount namespace with the providers' hosts file
// (start.resolve_providers); the PID started is still the backend's.
func startProcess(st *target.Start, baseDir string, environ []string, out *tailBuffer, tee io.Writer, wrap *nsWrap) (*process, error) {
	dir := st.Dir
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(baseDir, dir)
	}
	env := mergeEnv(environ, st.Env)
	marker, err := newMarker()
	if err != nil {
		return nil, fmt.Errorf("start backend: %w", err)
	}
	env = append(env, BackendMarkerEnv+"="+marker)
	name := st.Command[0]
	switch {
	case strings.ContainsRune(name, filepath.Separator) || strings.ContainsRune(name, '/'):
		if !filepath.IsAbs(name) {
			// Absolute, or Join would clean "./server" in dir "." to
			// "server", which exec looks up in PATH; and a relative path
			// would be taken relative to cmd.Dir a second time.
			abs, err := filepath.Abs(filepath.Join(dir, name))
			if err != nil {
				return nil, fmt.Errorf("start backend: %w", err)
			}
			name = abs
		}
	default:
		// Look the program up in the PATH the backend gets (start.env may
		// set it), not only the harness's.
		p, err := lookPathIn(name, envValue(env, "PATH"))
		if err == nil {
			name = p
		} else if wrap != nil {
			// Unwrapped, exec reports this at Start; wrapped, sh would.
			return nil, fmt.Errorf("start backend %q (start.command, in %s): %w", strings.Join(st.Command, " "), dir, err)
		}
	}
	args := st.Command[1:]
	if wrap != nil {
		name, args = wrap.command(name, args)
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = env
	// The backend writes into a pipe the harness reads itself, rather than
	// through os/exec's copier: Wait then returns as soon as the main
	// process exits, even while a child it forked still holds the pipe
	// (that child's output is still captured).
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start backend: output pipe: %w", err)
	}
	cmd.Stdout, cmd.Stderr = w, w
	prepareCmd(cmd)
	p := &process{cmd: cmd, out: out, outR: r, outDone: make(chan struct{}), done: make(chan struct{}),
		stopTimeout: st.StopTimeout.D(), outStart: out.total()}
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("start backend %q (start.command, in %s): %w", strings.Join(st.Command, " "), dir, err)
	}
	w.Close() // the backend holds its copies
	p.tree = newProcTree(cmd.Process.Pid, BackendMarkerEnv+"="+marker)
	go p.copyOutput(tee)
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// copyOutput copies the backend's output into the tail buffer (and tee)
// until every holder of the pipe has exited or stop closes it.
func (p *process) copyOutput(tee io.Writer) {
	defer close(p.outDone)
	buf := make([]byte, 32<<10)
	for {
		n, err := p.outR.Read(buf)
		if n > 0 {
			_, _ = p.out.Write(buf[:n])
			if tee != nil {
				_, _ = tee.Write(buf[:n])
			}
		}
		if err != nil {
			return
		}
	}
}

func newMarker() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("marker: %w", err)
	}
	return strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b), nil
}

func mergeEnv(base []string, extra map[string]string) []string {
	out := make([]string, 0, len(base)+len(extra))
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if _, override := extra[k]; !override && k != BackendMarkerEnv {
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

// output is what this start of the backend wrote (as much as the tail
// buffer holds).
func (p *process) output() string {
	out := p.out.lastLines(p.outStart, maxOutputBytes, maxOutputBytes)
	if p.redact != nil {
		out = p.redact(out)
	}
	return out
}

// exited reports whether the main process has exited.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// exitStatus describes how the main process ended ("exit status 2",
// "signal: killed"), or "running".
func (p *process) exitStatus() string {
	if !p.exited() {
		return "running"
	}
	if p.waitErr == nil {
		return "exit status 0"
	}
	return p.waitErr.Error()
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
			// Let the copier read what the process wrote last.
			select {
			case <-p.outDone:
			case <-time.After(time.Second):
			}
			return fmt.Errorf("backend exited before it was ready (%v); its output:\n%s", p.waitErr, indent(p.output()))
		case <-ctx.Done():
			return fmt.Errorf("backend not ready (waiting for %s: %s) before the timeout (start.ready_timeout); its output:\n%s", what, last, indent(p.output()))
		case <-tick.C:
		}
		if readyURL == "" {
			c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
			if err == nil {
				c.Close()
				return p.ownsPort(readyURL, port)
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
			return p.ownsPort(readyURL, port)
		}
		last = "HTTP " + strconv.Itoa(resp.StatusCode)
	}
}

// ownsPort checks, once the readiness probe has been answered, that the
// backend answered it and not another program that took the port first
// (see procTree.takenBy). The error's wording is the one addrInUse knows,
// so NewSession starts the backend again on a new port.
func (p *process) ownsPort(readyURL string, port int) error {
	probed := probedPort(readyURL, port)
	if probed == 0 {
		return nil
	}
	if who, taken := p.tree.takenBy(probed); taken {
		return fmt.Errorf("port %d answered the readiness probe, but its listener is %s, not the backend: address already in use", probed, who)
	}
	return nil
}

// probedPort is the loopback port the readiness probe reaches: the one of
// readyURL, or without one the port; 0 when readyURL is on another host.
func probedPort(readyURL string, port int) int {
	if readyURL == "" {
		return port
	}
	u, err := url.Parse(readyURL)
	if err != nil {
		return 0
	}
	switch u.Hostname() {
	case "127.0.0.1", "localhost", "::1":
	default:
		return 0
	}
	if u.Port() == "" {
		if u.Scheme == "https" {
			return 443
		}
		return 80
	}
	n, _ := strconv.Atoi(u.Port())
	return n
}

// stop ends the whole backend, whatever state it is in: it sends SIGTERM to
// its process group and every process carrying its marker (also when the
// main process has already exited: what it forked may still run), waits
// until all are gone or the grace period ends, then sends SIGKILL. The grace
// period is start.stop_timeout, cut to what is left before deadline (if
// not zero), but at least minStopGrace. It is idempotent.
func (p *process) stop(deadline time.Time) error {
	p.stopOnce.Do(func() { p.stopErr = p.doStop(deadline) })
	return p.stopErr
}

func (p *process) doStop(deadline time.Time) error {
	grace := p.stopTimeout
	capped := false
	if !deadline.IsZero() {
		if left := time.Until(deadline); left < grace {
			grace, capped = max(left, min(minStopGrace, grace)), true
		}
	}
	var err error
	p.tree.signal(false)
	if !p.waitGone(grace) {
		p.tree.signal(true)
		if !p.waitGone(5 * time.Second) {
			err = errors.New("backend processes still running after SIGKILL")
		} else if capped {
			err = fmt.Errorf("backend did not exit within %v (start.stop_timeout %v, cut to the run's remaining time) and was killed", grace.Round(time.Millisecond), p.stopTimeout)
		} else {
			err = fmt.Errorf("backend did not exit within %v (start.stop_timeout) and was killed", p.stopTimeout)
		}
	}
	// Every writer is gone: read what is left in the pipe, then close it.
	select {
	case <-p.outDone:
	case <-time.After(time.Second):
		// A descendant that escaped (it cleared its environment and left
		// the group) still holds the pipe.
	}
	p.outR.Close()
	<-p.outDone
	return err
}

// waitGone waits up to d for the main process and every other member of
// the tree to be gone.
func (p *process) waitGone(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if p.exited() && !p.tree.alive() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-p.done:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return "    (no output)"
	}
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}

// tailBuffer keeps the last max bytes written to it, in a ring of fixed
// size: memory stays at max however much is written, and however large one
// write is.
type tailBuffer struct {
	mu      sync.Mutex
	max     int
	ring    []byte // allocated on first write, len max
	start   int    // index of the oldest byte
	size    int    // bytes held
	dropped int64
	written int64 // bytes ever written

	pause func(time.Duration) // waitQuiet's wait between looks; nil: time.Sleep
}

func newTailBuffer(max int) *tailBuffer { return &tailBuffer{max: max} }

// Write appends p, dropping the oldest bytes beyond max.
func (b *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.written += int64(n)
	if b.ring == nil {
		b.ring = make([]byte, b.max)
	}
	if len(p) > b.max {
		b.dropped += int64(len(p) - b.max)
		p = p[len(p)-b.max:]
	}
	if over := b.size + len(p) - b.max; over > 0 {
		b.dropped += int64(over)
		b.start = (b.start + over) % b.max
		b.size -= over
	}
	end := (b.start + b.size) % b.max
	c := copy(b.ring[end:], p)
	copy(b.ring, p[c:])
	b.size += len(p)
	return n, nil
}

// bytes returns a copy of what is held, oldest first.
func (b *tailBuffer) bytes() []byte {
	out := make([]byte, 0, b.size)
	if b.size == 0 {
		return out
	}
	end := b.start + b.size
	if end <= b.max {
		return append(out, b.ring[b.start:end]...)
	}
	out = append(out, b.ring[b.start:]...)
	return append(out, b.ring[:end-b.max]...)
}

// String returns what is kept, noting how much was dropped.
func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dropped > 0 {
		return fmt.Sprintf("[%d earlier bytes dropped]\n%s", b.dropped, b.bytes())
	}
	return string(b.bytes())
}

// total returns how many bytes were ever written.
func (b *tailBuffer) total() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.written
}

// lastLines returns at most n of the last lines written since offset
// (a total() reading), and at most maxBytes.
func (b *tailBuffer) lastLines(since int64, n, maxBytes int) string {
	b.mu.Lock()
	held := b.bytes()
	if keep := b.written - since; keep >= 0 && keep < int64(len(held)) {
		held = held[int64(len(held))-keep:]
	}
	s := string(held)
	b.mu.Unlock()
	s = strings.TrimRight(s, "\n")
	if len(s) > maxBytes {
		s = "…" + strings.ToValidUTF8(s[len(s)-maxBytes:], "")
	}
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
