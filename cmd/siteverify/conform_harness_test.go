package main

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestConformHarnessErrorWritesReports: a run that cannot happen (the mock
// is unreachable) exits 3 and still writes every requested report, with an
// error entry, so CI's report step finds them.
func TestConformHarnessErrorWritesReports(t *testing.T) {
	dir := t.TempDir()
	junit, js, html := filepath.Join(dir, "out", "c.xml"), filepath.Join(dir, "out", "c.json"), filepath.Join(dir, "out", "c.html")
	code, out, errOut := runConformForTest(t, nil, "--target", "../../fixtures/targets/refbackend.yaml",
		"--mock-url", "http://127.0.0.1:1", "--junit", junit, "--json", js, "--html", html)
	if code != exitHarness || !strings.Contains(errOut, "--mock-url: dial mock") {
		t.Fatalf("exit %d, want 3\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	b, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Errors int `xml:"errors,attr"`
		Suites []struct {
			Errors int `xml:"errors,attr"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil || len(doc.Suites) != 1 || doc.Suites[0].Errors == 0 || !strings.Contains(string(b), "not run: --mock-url") {
		t.Errorf("JUnit report (%v):\n%s", err, b)
	}
	b, err = os.ReadFile(js)
	var rep struct {
		Notes []string `json:"notes"`
	}
	if err != nil || json.Unmarshal(b, &rep) != nil || len(rep.Notes) == 0 || !strings.Contains(rep.Notes[0], "could not happen") {
		t.Errorf("JSON report (%v):\n%.400s", err, b)
	}
	if b, err := os.ReadFile(html); err != nil || !strings.Contains(string(b), "not run: --mock-url") {
		t.Errorf("HTML report (%v)", err)
	}
}

// TestConformBinaryRelativeTargetDotSlashCommand runs a target whose
// start.command is ./server from the target's own folder, with a relative
// --target: the most natural call, which once looked "server" up in PATH.
func TestConformBinaryRelativeTargetDotSlashCommand(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "server"), "../../fixtures/refbackend/cmd/refbackend").CombinedOutput(); err != nil {
		t.Fatalf("build refbackend: %v\n%s", err, out)
	}
	writeFile(t, filepath.Join(dir, "target.yaml"), `kind: v3
start:
  command: [./server, -addr, "127.0.0.1:{{port}}"]
  env:
    REFBACKEND_VERIFY_URL: "{{verify_url}}"
    REFBACKEND_SECRET: "{{secret}}"
    REFBACKEND_SITEKEY: "{{sitekey}}"
    REFBACKEND_KIND: v3
    REFBACKEND_ACTION: login
    REFBACKEND_HOSTNAMES: shop.example.com
  ready_url: "http://127.0.0.1:{{port}}/healthz"
endpoints:
  - url: "http://127.0.0.1:{{port}}/api/login"
    fields: {username: alice, password: correct-horse-battery-staple}
    action: login
    hostnames: [shop.example.com]
classify:
  accepted: {status: [200]}
  rejected: {status: [403, 503]}
`)
	cmd := exec.Command(binPath, "conform", "--target", "target.yaml", "--focus", "ACCEPT-001")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}
