package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siteverify/siteverify/browser"
	"github.com/siteverify/siteverify/mockserver/intercept"
)

// TestBrowseStagingImpersonate runs `browse --staging --impersonate` on the
// reference backend: the staging code path (Google's real script URL, no
// interception in the browser, the backend calling Google's real siteverify
// URL, the target's {{verify_url}}) against the in-process mock
// impersonating Google through its proxy, with the CA of --ca-dir. A
// correct backend passes FLOW-001 and FLOW-002 and the report says it was
// an impersonation; one that verifies twice fails FLOW-001's lifecycle
// check, though its page shows success.
func TestBrowseStagingImpersonate(t *testing.T) {
	requireChromium(t)
	bin := filepath.Join(t.TempDir(), "refbackend")
	if out, err := exec.Command("go", "build", "-o", bin, "../../fixtures/refbackend/cmd/refbackend").CombinedOutput(); err != nil {
		t.Fatalf("build refbackend: %v\n%s", err, out)
	}
	caDir := t.TempDir()

	out := t.TempDir()
	html := filepath.Join(out, "report.html")
	code, stdout, stderr := runBrowseForTest(t, os.Getenv, "--target", browseTargetFile(t, bin, ""), "--staging", "--impersonate",
		"--ca-dir", caDir, "--out", out, "--html", html)
	if code != exitOK {
		t.Fatalf("correct backend: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"browser flows (staging, against an impersonation of the provider, not the real provider",
		"PASSED   FLOW-001", "PASSED   FLOW-002", "2 passed, 0 failed, 0 errors, 4 skipped",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "staging against an impersonation of the provider: proxy http://127.0.0.1:") {
		t.Errorf("stderr:\n%s", stderr)
	}
	var rep browser.Report
	b, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil || json.Unmarshal(b, &rep) != nil {
		t.Fatalf("report.json: %v", err)
	}
	if !rep.Staging || rep.Against != browser.AgainstImpersonation || !strings.HasPrefix(rep.Proxy, "http://127.0.0.1:") {
		t.Errorf("report.json: staging %v, against %q, proxy %q", rep.Staging, rep.Against, rep.Proxy)
	}
	for _, r := range rep.Results {
		if r.ID == "FLOW-001" && !strings.Contains(r.Actual, "verified once, with the secret of the staging sitekey") {
			t.Errorf("FLOW-001: %s", r.Actual)
		}
	}
	if h, err := os.ReadFile(html); err != nil || !strings.Contains(string(h), "against an impersonation of the provider") {
		t.Errorf("the HTML report does not say the run was against an impersonation: %v", err)
	}
	// The CA was made in --ca-dir, and reused.
	if _, err := os.Stat(filepath.Join(caDir, intercept.CertFileName)); err != nil {
		t.Errorf("CA in --ca-dir: %v", err)
	}

	code, stdout, stderr = runBrowseForTest(t, os.Getenv, "--target", browseTargetFile(t, bin, "verify-twice"), "--staging", "--impersonate",
		"--ca-dir", caDir, "--out", t.TempDir(), "--flow", "FLOW-001")
	if code != exitFail {
		t.Fatalf("backend that verifies twice: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "FAILED   FLOW-001") || !strings.Contains(stdout, "the page showed success, but the backend verified the page's token") ||
		!strings.Contains(stdout, "siteverify journal:") {
		t.Errorf("report:\n%s", stdout)
	}
}

// TestBrowseStagingRefusesInterceptingTarget: a target whose start section
// asks the session to intercept the providers' URLs (start.use_proxy) has
// no mock to intercept with in staging mode; browse says what to do
// instead, before starting anything.
func TestBrowseStagingRefusesInterceptingTarget(t *testing.T) {
	p := filepath.Join(t.TempDir(), "t.yaml")
	if err := os.WriteFile(p, []byte(`kind: v3
sitekey: 6LcK
secret: 6LcS
start:
  command: [/bin/true, "{{port}}"]
  use_proxy: true
endpoints: [{url: "http://127.0.0.1:{{port}}/api", action: login, hostnames: [localhost]}]
classify: {accepted: {status: [200]}, rejected: {status: [403]}}
pages:
  - {name: p, url: "http://127.0.0.1:{{port}}/login", form: "#f", submit: "#s", success: {selector: "#ok"}, rejected: {selector: "#no"}}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"--staging"}, {"--staging", "--impersonate", "--ca-dir", t.TempDir()}} {
		code, _, stderr := runBrowseForTest(t, browseEnv(), append([]string{"--target", p}, args...)...)
		if code != exitUsage || !strings.Contains(stderr, "drop start.use_proxy") {
			t.Errorf("%q: exit %d, stderr %q", args, code, stderr)
		}
	}
}

// TestBrowseHardCodedBackendOffline: offline, a backend that hard-codes
// Google's siteverify URL reaches the session's mock through the proxy the
// session starts for start.use_proxy, with the CA of browse's --ca-dir; the
// browser's side is answered in the browser as usual.
func TestBrowseHardCodedBackendOffline(t *testing.T) {
	requireChromium(t)
	bin := filepath.Join(t.TempDir(), "refbackend")
	if out, err := exec.Command("go", "build", "-o", bin, "../../fixtures/refbackend/cmd/refbackend").CombinedOutput(); err != nil {
		t.Fatalf("build refbackend: %v\n%s", err, out)
	}
	src, err := os.ReadFile(browseTargetFile(t, bin, ""))
	if err != nil {
		t.Fatal(err)
	}
	y := strings.Replace(string(src), `"{{verify_url}}"`, `"https://www.google.com/recaptcha/api/siteverify"`, 1)
	y = strings.Replace(y, "start:\n", "start:\n  use_proxy: true\n", 1)
	p := filepath.Join(t.TempDir(), "target.yaml")
	if err := os.WriteFile(p, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	caDir := t.TempDir()
	code, stdout, stderr := runBrowseForTest(t, os.Getenv, "--target", p, "--ca-dir", caDir, "--out", t.TempDir(), "--flow", "FLOW-001,FLOW-002")
	if code != exitOK || !strings.Contains(stdout, "PASSED   FLOW-001") || !strings.Contains(stdout, "PASSED   FLOW-002") ||
		!strings.Contains(stdout, "browser flows (offline, against the mock;") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(caDir, intercept.CertFileName)); err != nil {
		t.Errorf("the session's CA is not in --ca-dir: %v", err)
	}
}
