package browser

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/siteverify/siteverify/mockserver"
)

func envOf(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func fakeChrome(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "chromium")
	if err := os.WriteFile(p, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFindChromeOrder(t *testing.T) {
	flag, env := fakeChrome(t), fakeChrome(t)
	if got, err := FindChrome(flag, envOf(EnvChromePath, env)); err != nil || got != flag {
		t.Errorf("--chrome wins: %q %v", got, err)
	}
	if got, err := FindChrome("", envOf(EnvChromePath, env)); err != nil || got != env {
		t.Errorf("then CHROME_PATH: %q %v", got, err)
	}
	saved := chromeCandidates
	t.Cleanup(func() { chromeCandidates = saved })
	chromeCandidates = []string{filepath.Join(t.TempDir(), "nope"), flag}
	if got, err := FindChrome("", nil); err != nil || got != flag {
		t.Errorf("then the usual paths, in order: %q %v", got, err)
	}
}

func TestFindChromeErrors(t *testing.T) {
	saved := chromeCandidates
	t.Cleanup(func() { chromeCandidates = saved })
	chromeCandidates = nil
	_, err := FindChrome("", envOf())
	if !errors.Is(err, ErrChromeNotFound) {
		t.Fatalf("nothing found: %v", err)
	}
	const exact = "chromium not found: install it with 'apt-get install -y chromium' (Debian) or pass --chrome / set CHROME_PATH"
	if err.Error() != exact {
		t.Errorf("message:\n got %q\nwant %q", err, exact)
	}
	missing := filepath.Join(t.TempDir(), "chromium")
	for _, tc := range []struct {
		flag string
		env  func(string) string
		from string
	}{
		{missing, envOf(), "--chrome"},
		{"", envOf(EnvChromePath, missing), "CHROME_PATH"},
	} {
		_, err := FindChrome(tc.flag, tc.env)
		if err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "(from "+tc.from+")") ||
			!strings.HasSuffix(err.Error(), InstallHint) {
			t.Errorf("a wrong %s: %v", tc.from, err)
		}
	}
	notExec := filepath.Join(t.TempDir(), "chromium")
	if err := os.WriteFile(notExec, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := FindChrome(notExec, nil); err == nil {
		t.Error("a file that is not executable is refused")
	}
	if _, err := Launch(context.Background(), Options{ChromePath: missing}); err == nil || !strings.Contains(err.Error(), InstallHint) {
		t.Errorf("Launch with a missing binary: %v", err)
	}
}

// TestMissingChromiumFailsTheSuite re-runs this test binary's browser specs
// with Chromium hidden: they must fail with the install message, and skip
// (loudly) only with SITEVERIFY_SKIP_BROWSER=1.
func TestMissingChromiumFailsTheSuite(t *testing.T) {
	if os.Getenv(envHideChrome) == "1" {
		t.Skip("already the child")
	}
	run := func(extra ...string) (string, error) {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestBrowserFlows$", "-test.count=1", "-ginkgo.no-color")
		cmd.Env = append(withoutEnv(os.Environ(), EnvChromePath, EnvSkipBrowser), append([]string{envHideChrome + "=1"}, extra...)...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() == 0 {
		t.Fatalf("the suite passed without Chromium (%v):\n%s", err, out)
	}
	if !strings.Contains(out, ErrChromeNotFound.Error()) {
		t.Errorf("the failure does not carry the install message:\n%s", out)
	}
	out, err = run(EnvSkipBrowser + "=1")
	if err != nil {
		t.Fatalf("with %s=1 the suite skips: %v\n%s", EnvSkipBrowser, err, out)
	}
	if !strings.Contains(out, "browser tests SKIPPED") {
		t.Errorf("the skip is not announced:\n%s", out)
	}
}

func withoutEnv(env []string, names ...string) []string {
	var out []string
	for _, kv := range env {
		keep := true
		for _, n := range names {
			if strings.HasPrefix(kv, n+"=") {
				keep = false
			}
		}
		if keep {
			out = append(out, kv)
		}
	}
	return out
}

var validPage = Page{Name: "p", URL: "http://127.0.0.1:1/login", Kind: KindV3, Submit: "#submit", Success: Match{Selector: "#ok"}}

// hangUpURL is a local URL whose server accepts connections and closes them
// at once: an unreachable Google, deterministic and never on the network (a
// closed port could be reused by a test running in parallel).
func hangUpURL(t *testing.T) string {
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

func TestStagingFailsFastWithoutNetwork(t *testing.T) {
	// A server that hangs up stands in for a machine without a network, so
	// this test never reaches Google.
	probe := hangUpURL(t)
	start := time.Now()
	_, err := Run(context.Background(), Config{Staging: true, StagingProbeURL: probe, Pages: []Page{validPage},
		BrowserOptions: Options{ChromePath: "/nonexistent/chromium"}})
	// Fast means the hang-up ended the probe, not its five-second timeout:
	// asserted by cause; the wall-time bound is only a safety net.
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("took %v; staging without a network must fail fast", took)
	}
	if err != nil && (strings.Contains(err.Error(), "deadline exceeded") || strings.Contains(err.Error(), "Timeout")) {
		t.Errorf("the probe waited out its timeout instead of failing at the hang-up: %v", err)
	}
	if !errors.Is(err, ErrNoNetwork) || !strings.Contains(err.Error(), "staging") || !strings.Contains(err.Error(), "network") ||
		!strings.Contains(err.Error(), "run without --staging") {
		t.Errorf("error: %v", err)
	}
}

func TestRunValidatesConfig(t *testing.T) {
	m := mockserver.New(t)
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no pages", Config{Mock: m}, "no pages"},
		{"no mock", Config{Pages: []Page{validPage}}, "need a mock"},
		{"unknown flow", Config{Mock: m, Pages: []Page{validPage}, Flows: []string{"FLOW-999"}}, `unknown flow "FLOW-999"`},
		{"bad url", Config{Mock: m, Pages: []Page{{Name: "p", URL: "/login", Kind: KindV3, Submit: "#s", Success: Match{Selector: "#ok"}}}}, "absolute http(s) URL"},
		{"bad kind", Config{Mock: m, Pages: []Page{{Name: "p", URL: "http://x/", Kind: "v4", Submit: "#s", Success: Match{Selector: "#ok"}}}}, `kind "v4"`},
		{"no submit", Config{Mock: m, Pages: []Page{{Name: "p", URL: "http://x/", Kind: KindV3, Success: Match{Selector: "#ok"}}}}, "submit"},
		{"no success", Config{Mock: m, Pages: []Page{{Name: "p", URL: "http://x/", Kind: KindV3, Submit: "#s"}}}, "success.selector"},
		{"duplicate", Config{Mock: m, Pages: []Page{validPage, validPage}}, "name used twice"},
	} {
		_, err := Run(context.Background(), tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestFlowCatalogIsStable(t *testing.T) {
	// IDs are append-only: a rename or renumbering is a reviewed change here.
	want := []string{"FLOW-001", "FLOW-002", "FLOW-003", "FLOW-004", "FLOW-005", "FLOW-006"}
	if got := FlowIDs(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("flow IDs changed: %v", got)
	}
	for _, f := range Flows() {
		if f.Title == "" || f.Checks == "" || len(f.Kinds) == 0 || f.run == nil {
			t.Errorf("%s is incomplete", f.ID)
		}
	}
	if f, ok := Lookup("flow-003"); !ok || f.ID != "FLOW-003" {
		t.Error("Lookup ignores case")
	}
}

func TestParsePost(t *testing.T) {
	pairs, enc, err := parsePost(Submission{ContentType: "application/x-www-form-urlencoded", Body: []byte("a=1&b=x+y&a=%262&g-recaptcha-response=03AB")})
	if err != nil || enc != "application/x-www-form-urlencoded" || len(pairs) != 4 || pairs[1].Value != "x y" || pairs[2].Value != "&2" {
		t.Errorf("urlencoded: %v %q %v", pairs, enc, err)
	}
	body := "--XX\r\nContent-Disposition: form-data; name=\"u\"\r\n\r\nada\r\n--XX\r\nContent-Disposition: form-data; name=\"g-recaptcha-response\"\r\n\r\n03AB\r\n--XX--\r\n"
	pairs, enc, err = parsePost(Submission{ContentType: "multipart/form-data; boundary=XX", Body: []byte(body)})
	if err != nil || enc != "multipart/form-data" || len(pairs) != 2 || pairs[1] != (formPair{"g-recaptcha-response", "03AB"}) {
		t.Errorf("multipart: %v %q %v", pairs, enc, err)
	}
	if _, _, err := parsePost(Submission{ContentType: "application/json", Body: []byte("{}")}); err == nil {
		t.Error("a JSON post cannot be replayed as a form")
	}
}

func TestIsProviderURL(t *testing.T) {
	for u, want := range map[string]bool{
		"https://www.google.com/recaptcha/api.js?render=x":       true,
		"http://www.google.com/recaptcha/api2/mint":              true,
		"https://www.recaptcha.net/recaptcha/enterprise.js":      true,
		"https://www.gstatic.com/recaptcha/releases/x/recaptcha": true,
		"https://www.google.com/search?q=recaptcha":              false,
		"https://evil.example/recaptcha/api.js":                  false,
	} {
		if got := isProviderURL(u); got != want {
			t.Errorf("isProviderURL(%q) = %v", u, got)
		}
	}
}
