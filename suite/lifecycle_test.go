//go:build linux

package suite_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/siteverify/siteverify/suite"
	"github.com/siteverify/siteverify/suite/target"
)

// These tests check that the harness leaves no process behind, whatever
// the backend does: they read the PIDs the backend's processes wrote and
// ask the kernel about them right after the run, without waiting.

// processGone reports whether pid no longer exists (or is a zombie that is
// not the harness's to reap) and describes it otherwise.
func processGone(pid int) (bool, string) {
	err := syscall.Kill(pid, 0)
	if errors.Is(err, syscall.ESRCH) {
		return true, ""
	}
	stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return false, strings.TrimSpace(string(stat))
}

// readPIDs reads pid files written by a backend into dir.
func readPIDs(t *testing.T, dir string, names ...string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatalf("the backend did not write %s: %v", n, err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 1 {
			t.Fatalf("%s holds %q", n, b)
		}
		out[n] = pid
	}
	return out
}

func assertGone(t *testing.T, pids map[string]int) {
	t.Helper()
	for name, pid := range pids {
		if ok, stat := processGone(pid); !ok {
			t.Errorf("process %d (%s) is still there after the run: %s", pid, name, stat)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// shellTarget writes a target whose backend is sh -c script, run in dir.
func shellTarget(t *testing.T, dir, script, extra string) *target.Target {
	t.Helper()
	y := fmt.Sprintf(`kind: v2-checkbox
start:
  command: [sh, -c, %q, %q]
  dir: %q
  env: {BACKEND_PORT: "{{port}}", SUITE_HELPER_BACKEND: "1", HELPER_VERIFY_URL: "{{verify_url}}", HELPER_SECRET: "{{secret}}", HELPER_SITEKEY: "{{sitekey}}", HELPER_PORT: "{{port}}"}
%s
endpoints: [{url: "http://127.0.0.1:{{port}}/api/login", hostnames: [localhost]}]
classify: {accepted: {status: [200]}, rejected: {status: [403, 503]}}
outage: {answer_within: 1s}
`, script, os.Args[0], dir, extra)
	p := filepath.Join(t.TempDir(), "t.yaml")
	if err := os.WriteFile(p, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	tg, err := target.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// escape starts a process that leaves the backend's process group and
// session (setsid), ignores SIGTERM and records its PID.
const escape = `setsid sh -c 'trap "" TERM; echo $$ > escaped.pid; exec sleep 300' &
while [ ! -s escaped.pid ]; do sleep 0.01; done
`

// TestBackendExitsEarlyLeavesNothing: the main process forks a server with
// `&` (and one that escapes the group), then exits before it is ready. The
// harness reports the early exit and kills what it left behind.
func TestBackendExitsEarlyLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	tg := shellTarget(t, dir, `sleep 300 & echo $! > child.pid
`+escape+`echo forked; exit 4`, "  ready_url: \"http://127.0.0.1:{{port}}/\"\n  stop_timeout: 1s")
	_, err := suite.Run(context.Background(), suite.Config{Target: tg, Focus: []string{"ACCEPT-001"}})
	if err == nil || !strings.Contains(err.Error(), "backend exited before it was ready") || !strings.Contains(err.Error(), "exit status 4") {
		t.Fatalf("Run error = %v", err)
	}
	assertGone(t, readPIDs(t, dir, "child.pid", "escaped.pid"))
}

// TestStopTimeoutCappedByRunTimeout: a backend that ignores SIGTERM, with a
// stop_timeout longer than the run's timeout, never becomes ready. The run
// ends at its timeout (plus a short grace), not after stop_timeout, and
// nothing is left.
func TestStopTimeoutCappedByRunTimeout(t *testing.T) {
	dir := t.TempDir()
	tg := shellTarget(t, dir, `trap "" TERM; echo $$ > main.pid
sleep 300 & echo $! > child.pid
`+escape+`while :; do sleep 1; done`, "  ready_url: \"http://127.0.0.1:{{port}}/\"\n  ready_timeout: 60s\n  stop_timeout: 60s")
	start := time.Now()
	_, err := suite.Run(context.Background(), suite.Config{Target: tg, Focus: []string{"ACCEPT-001"}, Timeout: 1500 * time.Millisecond})
	elapsed := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "backend not ready") {
		t.Errorf("Run error = %v", err)
	}
	if elapsed > 8*time.Second {
		t.Errorf("the run took %v with a 1.5s timeout: stop_timeout (60s) was not cut to the run's timeout", elapsed)
	}
	assertGone(t, readPIDs(t, dir, "main.pid", "child.pid", "escaped.pid"))
}

// TestInterruptKillsBackend: the run is interrupted (what SIGINT or SIGTERM
// does to `siteverify conform`: its context ends) while a ready backend,
// and a child that escaped its group and ignores SIGTERM, run.
func TestInterruptKillsBackend(t *testing.T) {
	dir := t.TempDir()
	tg := shellTarget(t, dir, escape+`echo $$ > main.pid; exec "$0" -test.run='^TestHelperBackend$'`,
		"  stop_timeout: 2s")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var ran int
	rep, err := suite.Run(ctx, suite.Config{Target: tg, OnResult: func(suite.Result) {
		ran++
		if ran == 2 {
			cancel()
		}
	}})
	if err == nil || !strings.Contains(err.Error(), "run cut short") {
		t.Errorf("Run error = %v", err)
	}
	if len(rep.Results) < 2 || len(rep.Results) > 3 {
		t.Errorf("%d results, want the 2 that ran before the interrupt (or 3)", len(rep.Results))
	}
	assertGone(t, readPIDs(t, dir, "main.pid", "escaped.pid"))
}

// TestHelperHostile is not a test: TestHostileBackend runs this test binary
// as a backend that floods its output, ignores SIGTERM, forks a child into
// a session of its own, accepts connections and never answers.
func TestHelperHostile(t *testing.T) {
	if os.Getenv("SUITE_HELPER_HOSTILE") != "1" {
		t.Skip("helper process for TestHostileBackend")
	}
	dir := os.Getenv("HOSTILE_DIR")
	signal.Ignore(syscall.SIGTERM)
	child := exec.Command("sleep", "300")
	child.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := child.Start(); err != nil {
		os.Exit(3)
	}
	_ = os.WriteFile(filepath.Join(dir, "child.pid"), []byte(strconv.Itoa(child.Process.Pid)), 0o644)
	_ = os.WriteFile(filepath.Join(dir, "main.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644)
	go func() {
		line := []byte(strings.Repeat("flood ", 2730) + "\n") // 16 KiB
		for {
			if _, err := os.Stdout.Write(line); err != nil {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("HELPER_PORT"))
	if err != nil {
		os.Exit(3)
	}
	held := map[net.Conn]bool{} // referenced, so no finalizer closes them
	for {
		c, err := ln.Accept()
		if err != nil {
			os.Exit(3)
		}
		held[c] = true // never read, never answered
	}
}

// TestHostileBackend: bounded time and memory, and no process left, against
// a backend that floods its output, ignores SIGTERM, forks and never answers.
func TestHostileBackend(t *testing.T) {
	dir := t.TempDir()
	y := fmt.Sprintf(`kind: v2-checkbox
start:
  command: [%q, "-test.run=^TestHelperHostile$"]
  env: {SUITE_HELPER_HOSTILE: "1", HOSTILE_DIR: %q, HELPER_PORT: "{{port}}"}
  stop_timeout: 1s
endpoints: [{url: "http://127.0.0.1:{{port}}/api/login", hostnames: [localhost]}]
classify: {accepted: {status: [200]}, rejected: {status: [403, 503]}}
outage: {answer_within: 1s}
`, os.Args[0], dir)
	p := filepath.Join(dir, "t.yaml")
	if err := os.WriteFile(p, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	tg, err := target.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	rep, err := suite.Run(context.Background(), suite.Config{Target: tg, Focus: []string{"ACCEPT-001", "REJECT-004"}, Timeout: 30 * time.Second})
	elapsed := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		if r.Status != suite.StatusFailed || !strings.Contains(r.Actual, "no answer within 2s") || r.Crash != nil {
			t.Errorf("%s: %s %q (crash %v); want failed, no answer within 2s (answer_within + 1s)", r.ID, r.Status, r.Actual, r.Crash)
		}
	}
	// Two requests of 2s each, and a 1s stop_timeout before SIGKILL.
	if elapsed > 15*time.Second {
		t.Errorf("the run took %v", elapsed)
	}
	out := rep.TargetOutput
	if len(out) > 256<<10+100 || !strings.Contains(out, "earlier bytes dropped]") || !strings.Contains(out, "flood flood") {
		t.Errorf("backend output kept: %d bytes, starting %.80q; want the last 256 KiB of the flood", len(out), out)
	}
	if !slicesContainPrefix(rep.Notes, "stopping the backend: backend did not exit within 1s") {
		t.Errorf("notes = %q, want the SIGKILL noted", rep.Notes)
	}
	assertGone(t, readPIDs(t, dir, "main.pid", "child.pid"))
}

func slicesContainPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}
