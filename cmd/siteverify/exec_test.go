package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/siteverify/siteverify/mockserver/fixturefile"
)

// testChild is what the test binary does when siteverify exec runs it
// (SITEVERIFY_TEST_CHILD=mode): it checks its environment against the mock
// and exits 0, or prints why not and exits 1.
func testChild(mode string) int {
	fail := func(format string, a ...any) int { fmt.Printf("child: "+format+"\n", a...); return 1 }
	switch mode {
	case "verify":
		var tf tokensFile
		b, err := os.ReadFile(os.Getenv(envTokensFile))
		if err != nil || json.Unmarshal(b, &tf) != nil {
			return fail("tokens file: %v", err)
		}
		if tf.URL != os.Getenv(envURL) || tf.Tokens["human-login"].Secret != os.Getenv(envSecret) || os.Getenv(envSiteKey) == "" {
			return fail("tokens file disagrees with the environment: %+v", tf)
		}
		for token, want := range map[string]string{"human-login": `"success": true`, "wrong-hostname": `"hostname": "evil-clone.example"`, "expired": "timeout-or-duplicate"} {
			resp, err := http.PostForm(os.Getenv(envVerifyURL), url.Values{"secret": {os.Getenv(envSecret)}, "response": {token}})
			if err != nil {
				return fail("verify %s: %v", token, err)
			}
			var buf bytes.Buffer
			buf.ReadFrom(resp.Body)
			resp.Body.Close()
			if !strings.Contains(buf.String(), want) {
				return fail("verify %s: %s lacks %s", token, buf.String(), want)
			}
		}
		for name, path := range map[string]string{"HCAPTCHA": "/siteverify", "TURNSTILE": "/turnstile/v0/siteverify", "RECAPTCHA": "/recaptcha/api/siteverify"} {
			if got := os.Getenv("SITEVERIFY_" + name + "_VERIFY_URL"); got != os.Getenv(envURL)+path {
				return fail("SITEVERIFY_%s_VERIFY_URL=%q, want %s%s", name, got, os.Getenv(envURL), path)
			}
		}
		fmt.Println("child: ok", os.Getenv(envURL))
		return 0
	case "exit7":
		fmt.Fprintln(os.Stderr, "child: exiting 7")
		return 7
	}
	return fail("unknown mode %q", mode)
}

func TestExecRunsCommandAgainstMock(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("SITEVERIFY_TEST_CHILD", "verify")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"exec", "--", self}, envMap(), &stdout, &stderr)
	if code != 0 || !strings.Contains(stdout.String(), "child: ok http://127.0.0.1:") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, &stdout, &stderr)
	}
	t.Setenv("SITEVERIFY_TEST_CHILD", "exit7")
	stdout.Reset()
	stderr.Reset()
	if code := run(context.Background(), []string{"exec", self}, envMap(), &stdout, &stderr); code != 7 || !strings.Contains(stderr.String(), "child: exiting 7") {
		t.Errorf("exit %d, want the command's 7; stderr: %s", code, &stderr)
	}
}

func TestExecErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	typo := filepath.Join(t.TempDir(), "mock.yaml")
	writeFile(t, typo, "tokens:\n  - token: x\n    spec: {scor: 1}\n")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no command", []string{"exec"}, exitUsage, "no command: put it after --"},
		{"no command after --", []string{"exec", "--fixtures", typo, "--"}, exitUsage, "no command"},
		{"fixtures typo", []string{"exec", "--fixtures", typo, "--", "true"}, exitUsage, `did you mean "score"?`},
		{"port taken", []string{"exec", "--addr", busy.Addr().String(), "--", "true"}, exitHarness, "address already in use"},
		{"not found", []string{"exec", "--", "no-such-command-siteverify"}, exitNotFound, "executable file not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, envMap(), &stdout, &stderr)
			if code != tc.code || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, &stderr, tc.code, tc.want)
			}
		})
	}
}

// TestBinaryExecForwardsSignals sends SIGTERM to siteverify exec alone, as
// a CI runner does, and checks that the command gets it and that its
// status is exec's.
func TestBinaryExecForwardsSignals(t *testing.T) {
	s := startProcess(t, nil, "exec", "--", "sh", "-c", `trap 'echo got TERM; exit 42' TERM; echo ready; while :; do sleep 0.05; done`)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(s.stdout.String(), "ready") {
		if time.Now().After(deadline) {
			t.Fatalf("the command never started: %s", s.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := s.wait(t, 20*time.Second); code != 42 || !strings.Contains(s.stdout.String(), "got TERM") {
		t.Errorf("exit %d, stdout %q; want the command's 42 after it got SIGTERM", code, s.stdout)
	}
}

func TestServeURLFile(t *testing.T) {
	urlFile := filepath.Join(t.TempDir(), "mock.url")
	s := startServe(t, nil, "serve", "--addr", "127.0.0.1:0", "--url-file", urlFile)
	b, err := os.ReadFile(urlFile)
	if err != nil || string(b) != s.url+"\n" {
		t.Errorf("url file %q (%v), want %q", b, err, s.url+"\n")
	}
	if code := s.terminate(t); code != exitOK {
		t.Errorf("exit %d", code)
	}
	if _, err := os.Stat(urlFile); !os.IsNotExist(err) {
		t.Errorf("the URL file outlived the mock: %v", err)
	}
}

func TestUsableURL(t *testing.T) {
	for _, c := range []struct{ url, addr, want string }{
		{"http://0.0.0.0:8089", "0.0.0.0:8089", "http://127.0.0.1:8089"},
		{"http://[::]:8089", "0.0.0.0:8089", "http://127.0.0.1:8089"}, // dual stack: 0.0.0.0 listens as [::]
		{"http://[::]:8089", ":8089", "http://127.0.0.1:8089"},
		{"http://[::]:8089", "[::]:8089", "http://[::1]:8089"},
		{"http://127.0.0.1:8089", "127.0.0.1:8089", "http://127.0.0.1:8089"},
		{"http://192.0.2.10:80", "192.0.2.10:80", "http://192.0.2.10:80"},
		{"http://[2001:db8::1]:80", "[2001:db8::1]:80", "http://[2001:db8::1]:80"},
	} {
		if got := usableURL(c.url, c.addr); got != c.want {
			t.Errorf("usableURL(%s, %s) = %s, want %s", c.url, c.addr, got, c.want)
		}
	}
}

// TestServeWildcardPrintsUsableURL binds 0.0.0.0 (with an admin token, as
// required) and checks that the printed URL reaches the mock.
func TestServeWildcardPrintsUsableURL(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "0.0.0.0:0", "--admin-token", "t0ken"}, envMap(), &stdout, &stderr)
	}()
	u := waitListening(t, &stdout, done) // the pattern requires 127.0.0.1
	resp, err := http.Post(u+"/recaptcha/api/siteverify", "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cancel()
	<-done
}

func TestFixturesCommand(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"fixtures"}, envMap(), &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, &stderr)
	}
	fx, err := fixturefile.Parse("printed", stdout.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, nt := range fx.Tokens {
		names[nt.Token] = true
	}
	for _, want := range []string{"human-login", "bot", "no-score", "once", "expired", "wrong-hostname"} {
		if !names[want] {
			t.Errorf("no named token %q in siteverify fixtures", want)
		}
	}
}

func TestVersion(t *testing.T) {
	version, commit, date = "v9.8.7", "0123456789abcdef0123", "2026-12-01T10:00:00Z"
	defer func() { version, commit, date = "", "", "" }()
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"version"}, envMap(), &stdout, &stderr); code != exitOK {
		t.Fatal(code)
	}
	for _, want := range []string{"siteverify v9.8.7\n", "commit: 0123456789abcdef0123\n", "date:   2026-12-01T10:00:00Z\n", "go:     go1."} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("version output lacks %q:\n%s", want, &stdout)
		}
	}
	if v := versionString(); v != "siteverify v9.8.7 (0123456789ab, 2026-12-01T10:00:00Z, "+currentBuild().Go+")" {
		t.Errorf("versionString() = %s", v)
	}
}

// TestBinaryVersionFromBuildInfo checks the binary the tests built, which
// carries no -ldflags: its commit comes from the VCS stamp.
func TestBinaryVersionFromBuildInfo(t *testing.T) {
	out, err := exec.Command(binPath, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(out), "siteverify ") || !strings.Contains(string(out), "\ncommit: ") {
		t.Errorf("version output:\n%s", out)
	}
}
