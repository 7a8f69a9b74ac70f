package suite

import (
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestTakenBy checks who counts as another program on the backend's port:
// a process running before the backend started and another run's backend
// do; the backend itself, and a process it may have started (one without
// a marker started after it, as docker's port proxy), do not.
func TestTakenBy(t *testing.T) {
	t.Parallel()
	// The backend: a process that listens nowhere, started a few clock
	// ticks (10 ms) after this one, so "before" is unambiguous.
	time.Sleep(50 * time.Millisecond)
	backend := exec.Command("sleep", "60")
	if err := backend.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = backend.Process.Kill(); _ = backend.Wait() })
	tree := newProcTree(backend.Process.Pid, BackendMarkerEnv+"=this-run")
	waitStarted(t, backend.Process.Pid)

	// This test's process was running before the backend started.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if who, taken := tree.takenBy(ln.Addr().(*net.TCPAddr).Port); !taken || !strings.Contains(who, "pid "+strconv.Itoa(os.Getpid())+" (") ||
		!strings.HasSuffix(who, ", running since before the backend started") {
		t.Errorf("a listener of this older process: takenBy = %q, %v; want it named, taken", who, taken)
	}

	// Started after the backend: taken only with another run's marker.
	for _, c := range []struct {
		marker string
		taken  bool
	}{{"", false}, {BackendMarkerEnv + "=another-run", true}, {BackendMarkerEnv + "=this-run", false}} {
		port, holder := listenInProcess(t, c.marker)
		who, taken := tree.takenBy(port)
		if taken != c.taken || taken && who != describeProcess(holder)+", the backend of another siteverify run" {
			t.Errorf("a listener started after the backend, marker %q: takenBy = %q, %v; want taken %v", c.marker, who, taken, c.taken)
		}
	}

	// The backend's own listener, whatever else the port has.
	port, holder := listenInProcess(t, "")
	own := newProcTree(holder, BackendMarkerEnv+"=its-run")
	if who, taken := own.takenBy(port); taken {
		t.Errorf("the backend's own listener: takenBy = %q, true; want not taken", who)
	}
	// A port nobody listens on.
	free, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	if who, taken := tree.takenBy(free); taken {
		t.Errorf("a free port: takenBy = %q, true", who)
	}
}

// waitStarted waits until /proc shows process pid with a start time one
// clock tick later than this process's (so "started after" is strict).
func waitStarted(t *testing.T, pid int) {
	t.Helper()
	self, _ := startTime(os.Getpid())
	if st, ok := startTime(pid); !ok || st <= self {
		t.Fatalf("start time of pid %d: %d, %v; this process: %d", pid, st, ok, self)
	}
}

// listenInProcess starts the test binary's helper backend (TestHelperBackend)
// on a free port, with marker in its environment if not empty, and
// returns the port once it listens, and its PID.
func listenInProcess(t *testing.T, marker string) (int, int) {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperBackend$")
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, BackendMarkerEnv+"=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "SUITE_HELPER_BACKEND=1", "HELPER_PORT="+strconv.Itoa(port),
		"HELPER_VERIFY_URL=http://127.0.0.1:9/recaptcha/api/siteverify", "HELPER_SECRET=helper-secret", "HELPER_SITEKEY=helper-sitekey")
	if marker != "" {
		cmd.Env = append(cmd.Env, marker)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			c.Close()
			return port, cmd.Process.Pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("the helper did not listen on port %d within 20 s", port)
		}
	}
}
