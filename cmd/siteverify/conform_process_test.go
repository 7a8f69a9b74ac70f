package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/siteverify/siteverify/suite"
)

// TestConformBinaryCrashReports runs conform against the reference backend
// with the crash-on-transport-error flaw: the three outage cases that make
// its siteverify call fail at the transport (a reset, a hang, OUTAGE-009's
// closed connection) crash it, each fails with
// "backend crashed", conform restarts the backend, and every report says
// so.
func TestConformBinaryCrashReports(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	jsonPath, junitPath, htmlPath := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.xml"), filepath.Join(dir, "r.html")
	code, out, errOut := conformBinary(t, []string{"REFBACKEND_FLAWS=crash-on-transport-error"}, "--target", "../../fixtures/targets/refbackend.yaml",
		"--label-filter", "outage", "--json", jsonPath, "--junit", junitPath, "--html", htmlPath)
	if code != exitFail {
		t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitFail, out, errOut)
	}
	for _, w := range []string{"FAIL  OUTAGE-006", "BACKEND CRASHED: exit status 2; the harness restarted the backend",
		"PASS  OUTAGE-008", "3 backend crash(es), 3 restart(s)", "note: the backend crashed during OUTAGE-007 (exit status 2); restarted"} {
		if !strings.Contains(out, w) {
			t.Errorf("stdout lacks %q:\n%s", w, out)
		}
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Summary suite.Summary  `json:"summary"`
		Results []suite.Result `json:"results"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	var crashed []string
	for _, r := range rep.Results {
		if r.Crash != nil && r.Crash.Restarted && r.Status == suite.StatusFailed {
			crashed = append(crashed, r.ID)
		}
	}
	if !slices.Equal(crashed, []string{"OUTAGE-006", "OUTAGE-007", "OUTAGE-009"}) || rep.Summary.Restarts != 3 {
		t.Errorf("JSON: crashed and restarted %v, summary %+v", crashed, rep.Summary)
	}
	x, err := os.ReadFile(junitPath)
	if err != nil || strings.Count(string(x), `type="backend-crash"`) != 3 || !strings.Contains(string(x), `<property name="backend_restarts" value="3">`) {
		t.Errorf("JUnit report (%v):\n%s", err, x)
	}
	h, err := os.ReadFile(htmlPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"backend crashed: exit status 2", "unhandled siteverify transport error", "the harness restarted the backend",
		`<ul class="notes"><li>the backend crashed during OUTAGE-006 (exit status 2); restarted, ready in`} {
		if !strings.Contains(string(h), w) {
			t.Errorf("HTML report lacks %q", w)
		}
	}
}

// TestConformBinarySignalLeavesNothing sends SIGTERM, then SIGINT, to a
// running `siteverify conform` whose backend forked a child that left its
// process group and ignores SIGTERM: conform exits promptly, and neither
// the backend nor that child survives it.
func TestConformBinarySignalLeavesNothing(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("finding a child that left the process group needs Linux")
	}
	fixture, err := os.ReadFile("../../fixtures/targets/refbackend.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			const orig = `  command: [refbackend, -addr, "127.0.0.1:{{port}}", -timeout, 2s]`
			script := `setsid sh -c 'trap "" TERM; echo $$ > escaped.pid; exec sleep 300' &
while [ ! -s escaped.pid ]; do sleep 0.01; done
echo $$ > main.pid
exec refbackend -addr 127.0.0.1:$PORT -timeout 2s`
			start := "  command: [sh, -c, " + strconv.Quote(script) + "]\n  dir: " + strconv.Quote(dir) + "\n  stop_timeout: 3s"
			y := strings.Replace(string(fixture), orig, start, 1)
			y = strings.Replace(y, "    REFBACKEND_KIND: v3\n", "    REFBACKEND_KIND: v3\n    PORT: \"{{port}}\"\n", 1)
			if y == string(fixture) || !strings.Contains(y, "PORT:") {
				t.Fatal("the fixture's start section changed; update this test")
			}
			tp := filepath.Join(dir, "t.yaml")
			if err := os.WriteFile(tp, []byte(y), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(binPath, "conform", "--target", tp)
			cmd.Env = append(os.Environ(), "PATH="+refbackendPath(t)+string(os.PathListSeparator)+os.Getenv("PATH"))
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			passed := make(chan struct{})
			go func() {
				sc := bufio.NewScanner(stdout)
				once := false
				for sc.Scan() {
					if strings.HasPrefix(sc.Text(), "PASS") && !once {
						once = true
						close(passed)
					}
				}
				done <- cmd.Wait()
			}()
			select {
			case <-passed:
			case <-time.After(60 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatal("conform ran no case within 60s")
			}
			sent := time.Now()
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				var ee *exec.ExitError
				if err != nil && !errors.As(err, &ee) {
					t.Errorf("conform: %v", err)
				}
			case <-time.After(45 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatalf("conform still runs 45s after %v", sig)
			}
			// The child ignores SIGTERM: conform waits stop_timeout (3s),
			// then kills it; it does not wait the run's --timeout (5m).
			t.Logf("conform exited %v after %v", sig, time.Since(sent).Round(time.Millisecond))
			for _, name := range []string{"main.pid", "escaped.pid"} {
				b, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
				if pid <= 1 {
					t.Fatalf("%s holds %q", name, b)
				}
				if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
					stat, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
					t.Errorf("process %d (%s) survived conform: %s", pid, name, stat)
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		})
	}
}
