package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/siteverify/siteverify/suite"
)

func runConformForTest(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := runConform(context.Background(), args, func(k string) string { return env[k] }, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestConformUsage(t *testing.T) {
	badTarget := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(badTarget, []byte("kind: v3\nsitekey: a\nsecret: b\nendpoints:\n  - url: http://127.0.0.1:1/\n    acton: login\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		code     int
		out, err string
	}{
		{name: "help", args: []string{"-h"}, code: exitOK, out: "--label-filter, SITEVERIFY_LABEL_FILTER"},
		{name: "no target", code: exitUsage, err: "--target is required"},
		{name: "list", args: []string{"--list"}, code: exitOK, out: "OUTAGE-007  MUST    all"},
		{name: "list verbose", args: []string{"--list", "-v", "--focus", "WIRE-004"}, code: exitOK, out: "WIRE-004  MUST  keeps the secret out of the URL (kinds: all but reCAPTCHA Enterprise)\n    The backend MUST send the secret"},
		{name: "list filtered", args: []string{"--list", "--label-filter", "should"}, code: exitOK, out: "\n8 case(s)."},
		{name: "unknown focus", args: []string{"--target", "x.yaml", "--focus", "REJECT-999"}, code: exitUsage, err: `unknown case ID "REJECT-999"`},
		{name: "bad filter", args: []string{"--list", "--label-filter", "a &&"}, code: exitUsage, err: "label filter"},
		{name: "bad flag", args: []string{"--nope"}, code: exitUsage, err: "flag provided but not defined: -nope"},
		{name: "stray argument", args: []string{"target.yaml"}, code: exitUsage, err: "the target file goes in --target"},
		{name: "env twin", env: map[string]string{"SITEVERIFY_TIMEOUT": "soon"}, args: []string{"--list"}, code: exitUsage, err: `SITEVERIFY_TIMEOUT: "soon" is not a positive duration`},
		{name: "flag wins", env: map[string]string{"SITEVERIFY_TIMEOUT": "soon"}, args: []string{"--list", "--timeout", "1m"}, code: exitOK},
		{name: "missing file", args: []string{"--target", "/nonexistent/t.yaml"}, code: exitUsage, err: "no such file"},
		{name: "bad target file", args: []string{"--target", badTarget}, code: exitUsage,
			err: badTarget + `:6: endpoints[0].acton: unknown field; did you mean "action"?`},
		{name: "mock unreachable", args: []string{"--target", "../../fixtures/targets/refbackend.yaml", "--mock-url", "http://127.0.0.1:1"}, code: exitHarness, err: "--mock-url: dial mock"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runConformForTest(t, tc.env, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, errOut)
			}
			if !strings.Contains(out, tc.out) {
				t.Errorf("stdout lacks %q:\n%s", tc.out, out)
			}
			if !strings.Contains(errOut, tc.err) {
				t.Errorf("stderr lacks %q:\n%s", tc.err, errOut)
			}
		})
	}
}

// The binary tests run the siteverify binary TestMain built (binPath)
// against the reference backend, built here next to it (TestMain removes
// that directory) and put on PATH the way the fixture target files expect.

var (
	refbackendOnce sync.Once
	refbackendDir  string
	refbackendErr  error
)

func refbackendPath(t *testing.T) string {
	t.Helper()
	refbackendOnce.Do(func() {
		refbackendDir = filepath.Join(filepath.Dir(binPath), "refbackend-bin")
		out, err := exec.Command("go", "build", "-o", refbackendDir+string(os.PathSeparator), "../../fixtures/refbackend/cmd/refbackend").CombinedOutput()
		if err != nil {
			refbackendErr = errors.New("go build refbackend: " + err.Error() + "\n" + string(out))
		}
	})
	if refbackendErr != nil {
		t.Fatal(refbackendErr)
	}
	return refbackendDir
}

// conformBinary runs `siteverify conform` and returns its exit code,
// stdout and stderr.
func conformBinary(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	if _, ok := commands["conform"]; !ok {
		t.Fatalf(`main.go's command table has no "conform" entry; add:` + "\n\t" +
			`"conform": {summary: "run the conformance suite against a backend (flags: siteverify help conform)", run: runConform},`)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, append([]string{"conform"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = append(os.Environ(), "PATH="+refbackendPath(t)+string(os.PathListSeparator)+os.Getenv("PATH"))
	cmd.Env = append(cmd.Env, env...)
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run siteverify conform: %v", err)
	}
	return code, stdout.String(), stderr.String()
}

func TestConformBinaryReferenceBackend(t *testing.T) {
	dir := t.TempDir()
	jsonPath, junitPath, htmlPath := filepath.Join(dir, "report.json"), filepath.Join(dir, "report.xml"), filepath.Join(dir, "report.html")
	start := time.Now()
	code, out, errOut := conformBinary(t, nil, "--target", "../../fixtures/targets/refbackend.yaml", "--json", jsonPath, "--junit", junitPath, "--html", htmlPath)
	elapsed := time.Since(start)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	t.Logf("the catalog against the reference backend binary took %v", elapsed)
	for _, want := range []string{"PASS  ACCEPT-001  accepts a valid token  (", "SKIP  REJECT-005", "37 passed, 0 failed, 11 skipped  (refbackend, "} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	var rep struct {
		Passed       bool           `json:"passed"`
		Summary      suite.Summary  `json:"summary"`
		Results      []suite.Result `json:"results"`
		TargetOutput string         `json:"target_output"`
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.Passed || rep.Summary.Passed != 37 || len(rep.Results) != len(suite.Catalog()) || !strings.Contains(rep.TargetOutput, "refbackend: listening on") {
		t.Errorf("JSON report: passed=%v summary=%+v results=%d output=%q", rep.Passed, rep.Summary, len(rep.Results), rep.TargetOutput)
	}
	x, err := os.ReadFile(junitPath)
	if err != nil {
		t.Fatal(err)
	}
	var ju struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
	}
	if err := xml.Unmarshal(x, &ju); err != nil || ju.Tests != len(suite.Catalog()) || ju.Failures != 0 {
		t.Errorf("JUnit report: %+v %v", ju, err)
	}
	h, err := os.ReadFile(htmlPath)
	if err != nil || !strings.Contains(string(h), `id="totals">37 passed, 0 failed, 0 warnings, 11 skipped`) || !strings.Contains(string(h), "refbackend: listening on") {
		t.Errorf("HTML report: %v\n%.400s", err, h)
	}
}

func TestConformBinaryFlaws(t *testing.T) {
	tests := []struct {
		target, flaws string
		args          []string
		code          int
		failed        []string
	}{
		{"refbackend.yaml", "no-hostname-check", nil, exitFail, []string{"REJECT-004"}},
		{"refbackend.yaml", "verify-twice,secret-in-query", nil, exitFail, []string{"WIRE-001", "WIRE-004"}},
		{"refbackend.yaml", "no-timeout", []string{"--label-filter", "outage"}, exitFail, []string{"OUTAGE-007"}},
		// A SHOULD case fails the run only with --strict.
		{"refbackend.yaml", "no-remoteip", nil, exitOK, []string{"WIRE-006"}},
		{"refbackend.yaml", "no-remoteip", []string{"--strict"}, exitFail, []string{"WIRE-006"}},
		{"refbackend-v2.yaml", "", nil, exitOK, nil},
		{"refbackend-v2.yaml", "no-hostname-check", nil, exitFail, []string{"REJECT-004"}},
		{"refbackend-android.yaml", "", nil, exitOK, nil},
		{"refbackend-android.yaml", "no-package-check", nil, exitFail, []string{"REJECT-005"}},
	}
	for _, tc := range tests {
		t.Run(tc.target+" "+tc.flaws+" "+strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			jsonPath := filepath.Join(t.TempDir(), "r.json")
			args := append([]string{"--target", "../../fixtures/targets/" + tc.target, "--json", jsonPath, "--seed", "7"}, tc.args...)
			code, out, errOut := conformBinary(t, []string{"REFBACKEND_FLAWS=" + tc.flaws}, args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errOut)
			}
			b, err := os.ReadFile(jsonPath)
			if err != nil {
				t.Fatal(err)
			}
			var rep struct {
				Results []suite.Result `json:"results"`
			}
			if err := json.Unmarshal(b, &rep); err != nil {
				t.Fatal(err)
			}
			var failed []string
			for _, r := range rep.Results {
				if r.Status == suite.StatusFailed {
					failed = append(failed, r.ID)
				}
			}
			if !slices.Equal(failed, tc.failed) {
				t.Errorf("failed cases = %v, want %v\n%s", failed, tc.failed, out)
			}
			if tc.flaws == "no-timeout" {
				// The hang case gives up before the mock lets go of the hung
				// call (answer_within 5s + 8s): it never waits for the mock.
				var durs struct {
					Results []struct {
						ID string  `json:"id"`
						MS float64 `json:"duration_ms"`
					} `json:"results"`
				}
				_ = json.Unmarshal(b, &durs)
				for _, r := range durs.Results {
					if d := time.Duration(r.MS * float64(time.Millisecond)); r.ID == "OUTAGE-007" && d >= 13*time.Second {
						t.Errorf("OUTAGE-007 took %v against a backend without a timeout: it waited for the mock", d)
					}
				}
			}
		})
	}
}

func TestConformBinaryTargetError(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "t.yaml")
	if err := os.WriteFile(bad, []byte("kind: v3\noutage: {policy: maybe}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := conformBinary(t, nil, "--target", bad)
	if code != exitUsage || !strings.Contains(errOut, bad+`:2: outage.policy: unknown policy "maybe"; use one of fail-closed, fail-open, challenge`) {
		t.Errorf("exit %d, stderr:\n%s", code, errOut)
	}
}

// TestConformBinaryBackendDiesWithHarness kills `siteverify conform` the
// way `siteverify conform ... | head` does (SIGPIPE on stdout) and checks
// that the backend it started does not outlive it.
func TestConformBinaryBackendDiesWithHarness(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("relies on Linux's parent-death signal")
	}
	if _, ok := commands["conform"]; !ok {
		t.Skip("no conform command in main.go's table yet (TestConformBinaryReferenceBackend reports it)")
	}
	cmd := exec.Command(binPath, "conform", "-v", "--target", "../../fixtures/targets/refbackend.yaml")
	cmd.Env = append(os.Environ(), "PATH="+refbackendPath(t)+string(os.PathListSeparator)+os.Getenv("PATH"))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if _, u, ok := strings.Cut(sc.Text(), "refbackend: listening on "); ok {
				urlc <- u
			}
		}
	}()
	var backend string
	select {
	case backend = <-urlc:
	case <-time.After(30 * time.Second):
		t.Fatal("the backend never said it was listening")
	}
	// Read the header line, then hang up: the next write kills the harness.
	if _, err := bufio.NewReader(stdout).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	stdout.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("siteverify conform kept running with its stdout closed")
	}
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := client.Get(backend + "/healthz")
		if err != nil {
			return // gone
		}
		resp.Body.Close()
		if time.Now().After(deadline) {
			t.Fatalf("the backend at %s still answers after the harness died", backend)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
