package suite

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/siteverify/siteverify/suite/target"
)

// Crash is a backend crash noticed during a case: the backend's main
// process exited, or its port stopped accepting connections. The case that
// caused it fails; the harness then restarts the backend (when the target
// has a start section) so later cases are judged on a live backend.
type Crash struct {
	// Status is how the backend ended, e.g. "exit status 2", "signal:
	// killed", or "running, but 127.0.0.1:8080 refuses connections".
	Status string `json:"status"`
	// When says when it was noticed, if not while the case's requests ran:
	// "once the harness closed the siteverify calls the case held".
	When string `json:"when,omitempty"`
	// Output is the backend's last output lines when the crash was noticed.
	Output string `json:"output,omitempty"`
	// Restarted is true when the harness restarted the backend and it was
	// ready again; RestartTime is how long that took.
	Restarted   bool          `json:"restarted"`
	RestartTime time.Duration `json:"-"`
	// RestartError says why the backend could not be brought back; the
	// remaining cases are then not run (status error).
	RestartError string `json:"restart_error,omitempty"`
}

// String is one line: "exit status 2; restarted (ready in 120ms)".
func (c *Crash) String() string {
	s := c.Status
	switch {
	case c.Restarted:
		s += fmt.Sprintf("; the harness restarted the backend (ready in %s)", roundDuration(c.RestartTime))
	case c.RestartError != "":
		s += "; restart failed: " + firstLine(c.RestartError)
	}
	return s
}

// crashOutputLines and crashOutputBytes bound the output kept in a Crash.
const (
	crashOutputLines = 20
	crashOutputBytes = 4 << 10
)

// crashSettle is how long the harness waits, after a request found the
// connection dropped or refused, for a dying backend to finish exiting.
const crashSettle = 500 * time.Millisecond

// hangCloseSettle is how long the harness waits, after a case's held
// siteverify calls were closed at its end, for a backend that cannot take a
// closed connection to die. The crash then belongs to the case that held
// the calls, not to whichever case runs next. A backend that survives
// costs this once per hang case.
const hangCloseSettle = 2 * time.Second

// exitSettle is how long the harness waits, when the backend's port
// refuses connections while its main process still runs, for the process
// to be reported exited (a loaded machine can take a while).
const exitSettle = 3 * time.Second

// watch is how the harness tells whether the backend is up: the started
// main process (if any) and the TCP ports of its endpoints.
type watch struct {
	addrs []string // host:port of each endpoint; nil when they cannot be dialled directly
}

// newWatch prepares the watch and checks that the endpoints' ports accept
// connections now; if one does not (the backend is reached through a proxy,
// say), ports are not watched and only the started process is.
func newWatch(t *target.Target) *watch {
	w := &watch{}
	seen := map[string]bool{}
	for _, ep := range t.Endpoints {
		u, err := url.Parse(ep.URL)
		if err != nil || u.Hostname() == "" {
			continue
		}
		port := u.Port()
		if port == "" {
			port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
		}
		addr := net.JoinHostPort(u.Hostname(), port)
		if !seen[addr] {
			seen[addr] = true
			w.addrs = append(w.addrs, addr)
		}
	}
	if w.refused() != "" {
		w.addrs = nil
	}
	return w
}

// refused returns the first watched address that refuses connections, "".
func (w *watch) refused() string {
	for _, addr := range w.addrs {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			continue
		}
		if errors.Is(err, syscall.ECONNREFUSED) {
			return addr
		}
	}
	return ""
}

// downStatus says how the backend is down, "" when it looks up.
func (s *Session) downStatus() string {
	if p := s.backend(); p != nil && p.exited() {
		return p.exitStatus()
	}
	if s.watch != nil {
		if addr := s.watch.refused(); addr != "" {
			return "running, but " + addr + " refuses connections"
		}
	}
	return ""
}

// checkCrash tells whether the backend went down during a case. A backend
// that may be dying (see runEndpoints) gets up to settle to finish exiting.
func (s *Session) checkCrash(ctx context.Context, settle time.Duration) *Crash {
	status := s.downStatus()
	if status == "" && settle > 0 {
		deadline := time.Now().Add(settle)
		for status == "" && time.Now().Before(deadline) && ctx.Err() == nil {
			time.Sleep(25 * time.Millisecond)
			status = s.downStatus()
		}
	}
	if status == "" {
		return nil
	}
	var since int64
	if p := s.backend(); p != nil {
		// The port closes as the process exits, a moment before the exit
		// is reported: wait for it, for an exact status.
		select {
		case <-p.done:
		case <-time.After(exitSettle):
		}
		if p.exited() {
			status = p.exitStatus()
			// Let the copier read what the process wrote last (its panic
			// trace, say); a child still holding the pipe keeps it open.
			select {
			case <-p.outDone:
			case <-time.After(time.Second):
			}
		}
		since = p.outStart
	}
	return &Crash{Status: status, Output: s.redact(s.out.lastLines(since, crashOutputLines, crashOutputBytes))}
}

// recover brings the backend back after crash c (what says when: "during
// OUTAGE-006"): it stops
// what is left of the old start (its children too) and starts it again.
// Without a start section it waits briefly for the backend to come back by
// itself. When that fails, the session is down: later cases are not run.
func (s *Session) recover(ctx context.Context, c *Crash, what string) {
	start := time.Now()
	var err error
	if p := s.backend(); p != nil && s.target.Start != nil {
		_ = p.stop(s.deadline)
		fmt.Fprintf(s.out, "\n--- siteverify: the backend crashed %s (%s); restarting it ---\n", what, c.Status)
		err = s.startBackend(ctx)
	} else {
		err = s.waitBack(ctx, 5*time.Second)
	}
	if err != nil {
		c.RestartError = err.Error()
		s.mu.Lock()
		s.down = fmt.Sprintf("the backend crashed %s (%s) and could not be restarted: %v", what, c.Status, firstLine(err.Error()))
		s.notes = append(s.notes, s.down)
		s.mu.Unlock()
		return
	}
	c.Restarted, c.RestartTime = true, time.Since(start)
	s.mu.Lock()
	s.notes = append(s.notes, fmt.Sprintf("the backend crashed %s (%s); restarted, ready in %s", what, c.Status, roundDuration(c.RestartTime)))
	s.mu.Unlock()
}

// waitBack waits up to d for a backend the harness did not start to accept
// connections again.
func (s *Session) waitBack(ctx context.Context, d time.Duration) error {
	if s.watch == nil || len(s.watch.addrs) == 0 {
		return errors.New("the target has no start section, so the harness cannot restart it")
	}
	deadline := time.Now().Add(d)
	for {
		addr := s.watch.refused()
		if addr == "" {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s still refuses connections after %v, and the target has no start section, so the harness cannot restart it", addr, d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// crashActual is a crashed case's "actual": the crash, what the case saw,
// the backend's last output and what the harness did.
func crashActual(c *Crash, caseActual string) string {
	var b strings.Builder
	b.WriteString("backend crashed: " + c.Status)
	if c.When != "" {
		b.WriteString(", " + c.When)
	}
	if caseActual != "" {
		b.WriteString("\nthe case saw: " + caseActual)
	}
	if c.Output != "" {
		b.WriteString("\nits last output lines:\n" + indent(c.Output))
	}
	switch {
	case c.Restarted:
		fmt.Fprintf(&b, "\nthe harness restarted the backend (ready in %s); later cases run on the new process", roundDuration(c.RestartTime))
	case c.RestartError != "":
		b.WriteString("\nthe harness could not restart it; the remaining cases are not run: " + c.RestartError)
	}
	return b.String()
}
