package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemo runs the whole demo in-process, as `make demo` does, and checks
// what a newcomer sees: the two summaries, the failing IDs of the flawed
// variant, and a report file that holds them.
func TestDemo(t *testing.T) {
	html := filepath.Join(t.TempDir(), "demo.html")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"demo", "--html", html}, os.Getenv, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"reference backend:             conformance: 37 passed, 0 failed, 11 skipped; browser flows: 8 passed, 0 failed, 4 skipped",
		"flawed backend:                conformance: 28 passed, 9 failed, 11 skipped; browser flows: 2 passed, 6 failed, 4 skipped",
		"failed cases: REJECT-004, WIRE-001, OUTAGE-001, OUTAGE-002, OUTAGE-003, OUTAGE-004, OUTAGE-005, OUTAGE-006, OUTAGE-007\n",
		"failed flows: FLOW-001 on login-v3, FLOW-002 on login-v3, FLOW-003 on login-v3, FLOW-001 on login-v2, FLOW-002 on login-v2, FLOW-005 on login-v2\n",
		"hCaptcha reference backend:    conformance: 34 passed, 0 failed, 14 skipped; browser flows: 3 passed, 0 failed, 3 skipped\n",
		"failed cases: ACCEPT-001, REJECT-016, WIRE-011\n",
		"Turnstile reference backend:   conformance: 33 passed, 0 failed, 15 skipped; browser flows: 4 passed, 0 failed, 2 skipped\n",
		"failed cases: REJECT-017, WIRE-010\n",
		// reCAPTCHA Enterprise: its flaws are the catalog's to find; its page passes.
		"Enterprise reference backend:  conformance: 36 passed, 0 failed, 12 skipped; browser flows: 5 passed, 0 failed, 1 skipped\n",
		"Enterprise flawed backend:     conformance: 33 passed, 3 failed, 12 skipped; browser flows: 5 passed, 0 failed, 1 skipped\n",
		"failed cases: ENT-001, ENT-004, ENT-006\n",
		"report: " + html,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\r") {
		t.Error("progress written to a non-terminal")
	}
	b, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`id="totals">294 passed, 23 failed, 2 warnings, 125 skipped`, "Enterprise flawed backend", `id="r1-REJECT-004" open`, `id="r1-FLOW-005-login-v2" open`, "data:image/png;base64,"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

func TestDemoUsage(t *testing.T) {
	for _, args := range [][]string{{"demo", "extra"}, {"demo", "--flaws", "no-such-flaw"}, {"demo", "--timeout", "soon"}} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, os.Getenv, &stdout, &stderr); code != exitUsage {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, stderr.String())
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"help", "demo"}, os.Getenv, &stdout, &stderr); code != exitOK || !strings.Contains(stdout.String(), "--html FILE") {
		t.Errorf("help demo: %d %s", code, stdout.String())
	}
}
