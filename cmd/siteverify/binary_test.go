package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// binPath is the siteverify binary TestMain builds; "" when the build
// failed, which TestMain reports.
var binPath string

func TestMain(m *testing.M) {
	// The test binary doubles as a command for siteverify exec to run.
	if mode := os.Getenv("SITEVERIFY_TEST_CHILD"); mode != "" {
		os.Exit(testChild(mode))
	}
	dir, err := os.MkdirTemp("", "siteverify-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "make temp dir:", err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "siteverify")
	args := []string{"build", "-o", binPath}
	if raceEnabled {
		args = append(args, "-race") // the binary runs under the race detector too
	}
	build := exec.Command("go", append(args, ".")...)
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build ./cmd/siteverify: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// served is one `siteverify serve` process started by a test.
type served struct {
	cmd            *exec.Cmd
	url            string
	stdout, stderr *syncBuffer
	exited         chan struct{}
	exitErr        error
}

// startServe starts the binary with args and extra environment, waits for
// the listening line, and makes sure the process is gone when the test ends.
func startServe(t *testing.T, env []string, args ...string) *served {
	t.Helper()
	s := startProcess(t, env, args...)
	s.url = waitListening(t, s.stdout, s.exitCode())
	return s
}

func startProcess(t *testing.T, env []string, args ...string) *served {
	t.Helper()
	s := &served{stdout: &syncBuffer{}, stderr: &syncBuffer{}, exited: make(chan struct{})}
	s.cmd = exec.Command(binPath, args...)
	s.cmd.Stdout, s.cmd.Stderr = s.stdout, s.stderr
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SITEVERIFY_") {
			s.cmd.Env = append(s.cmd.Env, kv)
		}
	}
	s.cmd.Env = append(s.cmd.Env, env...)
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.exitErr = s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-s.exited:
		default:
			_ = s.cmd.Process.Kill() // the PID this test started, and only it
			<-s.exited
		}
		if t.Failed() {
			t.Logf("siteverify stdout:\n%s\nsiteverify stderr:\n%s", s.stdout, s.stderr)
		}
	})
	return s
}

// exitCode returns a channel that yields the exit code once the process ends.
func (s *served) exitCode() <-chan int {
	ch := make(chan int, 1)
	go func() {
		<-s.exited
		ch <- s.code()
	}()
	return ch
}

func (s *served) code() int {
	var ee *exec.ExitError
	switch {
	case s.exitErr == nil:
		return 0
	case errors.As(s.exitErr, &ee):
		return ee.ExitCode()
	}
	return -1
}

// wait waits up to d for the process to exit and returns its exit code.
func (s *served) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-s.exited:
		return s.code()
	case <-time.After(d):
		t.Fatalf("siteverify did not exit within %v", d)
		return -1
	}
}

// terminate sends SIGTERM and returns the exit code, failing the test if it
// takes more than 5 s.
func (s *served) terminate(t *testing.T) int {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	return s.wait(t, 5*time.Second)
}

// httpAnswer is an HTTP response read whole.
type httpAnswer struct {
	status      int
	contentType string
	body        string
}

var binaryClient = &http.Client{Timeout: 10 * time.Second}

func httpDo(t *testing.T, method, u, contentType, body string, header ...string) httpAnswer {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := binaryClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, u, err)
	}
	return httpAnswer{resp.StatusCode, resp.Header.Get("Content-Type"), string(b)}
}

func verifyForm(t *testing.T, s *served, secret, token string) httpAnswer {
	t.Helper()
	form := url.Values{"secret": {secret}, "response": {token}}.Encode()
	return httpDo(t, http.MethodPost, s.url+"/recaptcha/api/siteverify", "application/x-www-form-urlencoded", form)
}
