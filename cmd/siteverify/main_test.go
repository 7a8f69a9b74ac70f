package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for a writer goroutine and a reader.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestRunDispatch(t *testing.T) {
	cases := []struct {
		args             []string
		code             int
		stdout, stderr   string // substrings; "" means must be empty
		stdoutNotContain string
	}{
		{nil, exitUsage, "", "Commands:\n  demo ", ""},
		{[]string{"help"}, exitOK, "Commands:\n  demo ", "", ""},
		{[]string{"--help"}, exitOK, "  version ", "", ""},
		{[]string{"help", "serve"}, exitOK, "--addr, SITEVERIFY_ADDR", "", ""},
		{[]string{"help", "nope"}, exitUsage, "", `unknown command "nope"`, ""},
		{[]string{"nope"}, exitUsage, "", "siteverify: unknown command \"nope\"\n\nsiteverify: test CAPTCHA", ""},
		{[]string{"version"}, exitOK, "siteverify ", "", ""},
		{[]string{"version", "x"}, exitUsage, "", "takes no arguments", ""},
		{[]string{"serve", "-h"}, exitOK, "usage: siteverify serve [flags]", "", ""},
		{[]string{"serve", "--journal-size", "0"}, exitUsage, "", "siteverify serve: --journal-size=\"0\": want a whole number", ""},
		{[]string{"serve", "--addr", "0.0.0.0:0"}, exitUsage, "", "set --admin-token (or SITEVERIFY_ADMIN_TOKEN)", ""},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), c.args, envMap(), &stdout, &stderr)
			if code != c.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, c.code, &stdout, &stderr)
			}
			for _, o := range []struct {
				name, got, want string
			}{{"stdout", stdout.String(), c.stdout}, {"stderr", stderr.String(), c.stderr}} {
				if o.want == "" && o.got != "" {
					t.Errorf("%s should be empty, got:\n%s", o.name, o.got)
				}
				if !strings.Contains(o.got, o.want) {
					t.Errorf("%s lacks %q:\n%s", o.name, o.want, o.got)
				}
			}
		})
	}
}

// TestCommandsTable checks every command has a summary and a run function
// and shows up in the usage.
func TestCommandsTable(t *testing.T) {
	var b bytes.Buffer
	usage(&b)
	for name, c := range commands {
		if c.summary == "" || c.run == nil {
			t.Errorf("command %q: summary %q, run set %v", name, c.summary, c.run != nil)
		}
		if !strings.Contains(b.String(), "  "+name+" ") {
			t.Errorf("usage does not list %q:\n%s", name, b.String())
		}
	}
}

// TestServeInProcess runs `serve` through run and stops it by cancelling
// the context, as SIGTERM does in the binary.
func TestServeInProcess(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0"}, envMap("SITEVERIFY_LOG_LEVEL", "debug"), &stdout, &stderr)
	}()
	url := waitListening(t, &stdout, done)
	resp, err := http.Get(url + "/__admin/health")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("health: %s", resp.Status)
	}
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("exit %d, want 0\nstderr: %s", code, stderr.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("serve did not stop within 5 s of cancellation")
	}
	for _, want := range []string{`msg="siteverify serve started"`, "msg=\"shutting down\"", "msg=stopped"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, stderr.String())
		}
	}
	if strings.Count(stdout.String(), "\n") != 1 {
		t.Errorf("stdout should be exactly the listening line:\n%s", stdout.String())
	}
}

var listeningLine = regexp.MustCompile(`^siteverify: listening on (http://127\.0\.0\.1:[0-9]+)\n`)

// waitListening waits for the listening line on stdout and returns the URL.
func waitListening(t *testing.T, stdout fmt.Stringer, done <-chan int) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := listeningLine.FindStringSubmatch(stdout.String()); m != nil {
			return m[1]
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited with %d before listening", code)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("no listening line within 10 s; stdout: %q", stdout.String())
	return ""
}
