package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/siteverify/siteverify/browser"
)

func browseEnv(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func runBrowseForTest(t *testing.T, env func(string) string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := runBrowse(context.Background(), args, env, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// browseTargetFile writes a target for the reference backend's v3 page.
// backend is the refbackend binary; flaws is REFBACKEND_FLAWS.
func browseTargetFile(t *testing.T, backend, flaws string) string {
	t.Helper()
	y := fmt.Sprintf(`name: refbackend-browse
kind: v3
sitekey: 6LcRefBackendBrowseSiteKey00000000000001
secret: 6LcRefBackendBrowseSecret000000000000002
start:
  command: [%q, -addr, "127.0.0.1:{{port}}", -timeout, 1s]
  env:
    REFBACKEND_VERIFY_URL: "{{verify_url}}"
    REFBACKEND_SECRET: "{{secret}}"
    REFBACKEND_SITEKEY: "{{sitekey}}"
    REFBACKEND_KIND: v3
    REFBACKEND_ACTION: login
    REFBACKEND_HOSTNAMES: localhost
    REFBACKEND_FLAWS: %q
  ready_url: "http://127.0.0.1:{{port}}/healthz"
  ready_timeout: 20s
endpoints:
  - url: "http://127.0.0.1:{{port}}/api/login"
    fields: {username: alice, password: correct-horse-battery-staple}
    action: login
    hostnames: [localhost]
classify:
  accepted: {status: [200]}
  rejected: {status: [403, 503]}
pages:
  - name: login-v3
    url: "http://localhost:{{port}}/login-v3"
    form: "#login-form"
    submit: "#submit"
    fields: {"#username": alice, "#password": correct-horse-battery-staple}
    success: {selector: "#result.success", text: Welcome}
    rejected: {selector: "#result.rejected"}
`, backend, flaws)
	p := filepath.Join(t.TempDir(), "target.yaml")
	if err := os.WriteFile(p, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBrowseUsageErrors(t *testing.T) {
	noPages := filepath.Join(t.TempDir(), "t.yaml")
	if err := os.WriteFile(noPages, []byte(`kind: v3
sitekey: 6LcK
secret: 6LcS
endpoints: [{url: "http://127.0.0.1:1/api", action: login, hostnames: [localhost]}]
classify: {accepted: {status: [200]}, rejected: {status: [403]}}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  func(string) string
		args []string
		want string
	}{
		{"no target", browseEnv(), nil, "--target is required"},
		{"extra argument", browseEnv(), []string{"--target", "x", "oops"}, "takes no arguments"},
		{"unknown flag", browseEnv(), []string{"--nope"}, "flag provided but not defined"},
		{"unknown flow", browseEnv(), []string{"--target", noPages, "--flow", "FLOW-001,FLOW-042"}, `unknown flow "FLOW-042"`},
		{"unknown flow from env", browseEnv("SITEVERIFY_FLOWS", "nope"), []string{"--target", noPages}, `SITEVERIFY_FLOWS: unknown flow "nope"`},
		{"bad timeout", browseEnv("SITEVERIFY_TIMEOUT", "soon"), []string{"--target", noPages}, `SITEVERIFY_TIMEOUT="soon"`},
		{"missing file", browseEnv(), []string{"--target", filepath.Join(t.TempDir(), "none.yaml")}, "none.yaml"},
		{"no pages", browseEnv(), []string{"--target", noPages}, "has no pages section"},
		{"staging and mock", browseEnv(), []string{"--target", noPages, "--staging", "--mock-url", "http://127.0.0.1:1"}, "exclude each other"},
		{"impersonate without staging", browseEnv(), []string{"--target", noPages, "--impersonate"}, "--impersonate is for --staging"},
	} {
		code, _, stderr := runBrowseForTest(t, tc.env, tc.args...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want 2 and %q", tc.name, code, stderr, tc.want)
		}
	}
	code, stdout, _ := runBrowseForTest(t, browseEnv(), "-h")
	if code != exitOK || !strings.Contains(stdout, "--target, SITEVERIFY_TARGET") || !strings.Contains(stdout, "FLOW-005") {
		t.Errorf("help: %d %s", code, stdout)
	}
}

// A target whose pages point nowhere: enough for the checks that must fail
// before anything starts.
func pagesOnlyTarget(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "t.yaml")
	if err := os.WriteFile(p, []byte(`kind: v3
sitekey: 6LcK
secret: 6LcS
endpoints: [{url: "http://127.0.0.1:1/api", action: login, hostnames: [localhost]}]
classify: {accepted: {status: [200]}, rejected: {status: [403]}}
pages:
  - {name: p, url: "http://127.0.0.1:1/login", form: "#f", submit: "#s", success: {selector: "#ok"}, rejected: {selector: "#no"}}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBrowseStagingFailsFastWithoutNetwork(t *testing.T) {
	// A local server that hangs up plays the offline machine, so the test
	// never reaches Google even on a machine with a network.
	// (hangUpURL is in the browser package's tests; this is the same idea.)
	probe := browseHangUpURL(t)
	start := time.Now()
	code, _, stderr := runBrowseForTest(t, browseEnv("SITEVERIFY_STAGING_PROBE", probe), "--target", pagesOnlyTarget(t), "--staging", "--out", t.TempDir())
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("took %v: staging without a network must fail fast", took)
	}
	if code != exitHarness || !strings.Contains(stderr, "staging mode needs network access") || !strings.Contains(stderr, "run without --staging") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestBrowseChromiumMissing(t *testing.T) {
	out := t.TempDir()
	code, _, stderr := runBrowseForTest(t, browseEnv(), "--target", pagesOnlyTarget(t), "--chrome", filepath.Join(t.TempDir(), "chromium"), "--out", out)
	if code != exitHarness || !strings.Contains(stderr, browser.InstallHint) {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	// The report is written all the same, with an error per flow.
	var rep browser.Report
	b, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil || json.Unmarshal(b, &rep) != nil || len(rep.Results) == 0 || rep.Results[0].Status != browser.Errored ||
		!strings.Contains(rep.Results[0].Actual, browser.InstallHint) {
		t.Errorf("report.json (%v): %s", err, b)
	}
	code, _, stderr = runBrowseForTest(t, browseEnv("CHROME_PATH", "/nonexistent/chromium", "SITEVERIFY_OUT", t.TempDir()), "--target", pagesOnlyTarget(t))
	if code != exitHarness || !strings.Contains(stderr, "(from CHROME_PATH)") {
		t.Errorf("CHROME_PATH: exit %d, stderr %q", code, stderr)
	}
}

// requireChromium fails the test when Chromium is missing, unless
// SITEVERIFY_SKIP_BROWSER=1 says to skip on purpose.
func requireChromium(t *testing.T) {
	t.Helper()
	if _, err := browser.FindChrome("", os.Getenv); err != nil {
		if os.Getenv("SITEVERIFY_SKIP_BROWSER") == "1" {
			fmt.Fprintf(os.Stderr, "\n!!! SITEVERIFY_SKIP_BROWSER=1: %s SKIPPED: %v\n\n", t.Name(), err)
			t.Skipf("SITEVERIFY_SKIP_BROWSER=1: %v", err)
		}
		t.Fatal(err)
	}
}

func TestBrowseReferenceBackend(t *testing.T) {
	requireChromium(t)
	bin := filepath.Join(t.TempDir(), "refbackend")
	if out, err := exec.Command("go", "build", "-o", bin, "../../fixtures/refbackend/cmd/refbackend").CombinedOutput(); err != nil {
		t.Fatalf("build refbackend: %v\n%s", err, out)
	}

	out := t.TempDir()
	code, stdout, stderr := runBrowseForTest(t, os.Getenv, "--target", browseTargetFile(t, bin, ""), "--out", out)
	if code != exitOK {
		t.Fatalf("correct backend: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, id := range []string{"FLOW-001", "FLOW-002", "FLOW-003", "FLOW-004", "FLOW-006"} {
		if !strings.Contains(stdout, "PASSED   "+id) {
			t.Errorf("%s did not pass:\n%s", id, stdout)
		}
	}
	if !strings.Contains(stdout, "5 passed, 0 failed, 0 errors, 1 skipped") {
		t.Errorf("summary:\n%s", stdout)
	}

	out = t.TempDir()
	html := filepath.Join(out, "report.html")
	code, stdout, stderr = runBrowseForTest(t, os.Getenv, "--target", browseTargetFile(t, bin, "page-token-at-load"), "--out", out, "--flow", "FLOW-001,FLOW-003", "--html", html)
	if code != exitFail {
		t.Fatalf("token fetched at load: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "FAILED   FLOW-003") || !strings.Contains(stdout, "PASSED   FLOW-001") ||
		!strings.Contains(stdout, "the page posted the token it got at page load") || !strings.Contains(stdout, "siteverify journal:") {
		t.Errorf("report:\n%s", stdout)
	}
	png, err := os.ReadFile(filepath.Join(out, "login-v3-FLOW-003.png"))
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Errorf("screenshot: %v", err)
	}
	var rep browser.Report
	b, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil || json.Unmarshal(b, &rep) != nil || len(rep.Results) != 2 || rep.Results[1].Status != browser.Failed {
		t.Errorf("report.json: %v %+v", err, rep.Results)
	}
	h, err := os.ReadFile(html)
	if err != nil || !strings.Contains(string(h), `id="totals">1 passed, 1 failed`) || !strings.Contains(string(h), "data:image/png;base64,") {
		t.Errorf("HTML report: %v", err)
	}
}

// browseHangUpURL is a local URL whose server accepts connections and closes them
// at once: an unreachable Google, deterministic and never on the network (a
// closed port could be reused by a test running in parallel).
func browseHangUpURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return "http://" + ln.Addr().String() + "/recaptcha/api.js"
}
