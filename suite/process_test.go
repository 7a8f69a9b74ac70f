package suite_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/siteverify/siteverify/fixtures/refbackend"
	"github.com/siteverify/siteverify/suite"
	"github.com/siteverify/siteverify/suite/target"
)

// TestHelperBackend is not a test: the start-section tests run this test
// binary as the backend (the os/exec helper-process pattern).
func TestHelperBackend(t *testing.T) {
	if os.Getenv("SUITE_HELPER_BACKEND") != "1" {
		t.Skip("helper process for TestStartSection")
	}
	flaws, err := refbackend.ParseFlaws(os.Getenv("HELPER_FLAWS"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(3)
	}
	h, err := refbackend.New(refbackend.Config{VerifyURL: os.Getenv("HELPER_VERIFY_URL"), Secret: os.Getenv("HELPER_SECRET"),
		SiteKey: os.Getenv("HELPER_SITEKEY"), Hostnames: []string{"localhost"}, Timeout: time.Second, Flaws: flaws})
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(3)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("HELPER_PORT"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(3)
	}
	fmt.Println("helper backend: listening in", mustGetwd())
	_ = http.Serve(ln, h) // until the harness stops the process group
	os.Exit(0)
}

func mustGetwd() string {
	wd, _ := os.Getwd()
	return wd
}

// helperTarget writes a target file whose start section runs the helper.
func helperTarget(t *testing.T, startExtra string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "work"), 0o755); err != nil {
		t.Fatal(err)
	}
	y := fmt.Sprintf(`
kind: v3
start:
  command: [%q, "-test.run=^TestHelperBackend$"]
  dir: work
  env:
    SUITE_HELPER_BACKEND: "1"
    HELPER_VERIFY_URL: "{{verify_url}}"
    HELPER_SECRET: "{{secret}}"
    HELPER_SITEKEY: "{{sitekey}}"
    HELPER_PORT: "{{port}}"
%s
endpoints:
  - url: "http://127.0.0.1:{{port}}/api/login"
    action: login
    hostnames: [localhost]
classify:
  accepted: {status: [200]}
  rejected: {status: [403, 503]}
outage: {answer_within: 3s}
`, os.Args[0], startExtra)
	path := filepath.Join(dir, "helper.yaml")
	if err := os.WriteFile(path, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// wrappedHelperTarget loads helperTarget(t, startExtra) with its command
// run through a shell script first: the script starts the helper with
// exec "$0" "$@", or does what a test needs instead. It returns the target
// and its file's path.
func wrappedHelperTarget(t *testing.T, startExtra, script string) (*target.Target, string) {
	t.Helper()
	path := helperTarget(t, startExtra)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	y := strings.Replace(string(b), "  command: [", "  command: [sh, -c, '"+script+"', ", 1)
	if err := os.WriteFile(path, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	tg, err := target.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return tg, path
}

func TestStartSection(t *testing.T) {
	// No sitekey or secret in the file: the harness generates them and
	// passes them through {{sitekey}} and {{secret}}.
	tg, err := target.Load(helperTarget(t, `  ready_url: "http://127.0.0.1:{{port}}/healthz"`))
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	rep, err := suite.Run(context.Background(), suite.Config{Target: tg, Focus: []string{"ACCEPT-001", "REJECT-004", "WIRE-003"},
		OnResult: func(r suite.Result) { seen = append(seen, r.ID) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Failed()) > 0 || rep.Summary.Passed != 3 {
		var b strings.Builder
		rep.WriteConsole(&b, true)
		t.Fatalf("against the started helper: %s\n%s", rep.SummaryLine(), b.String())
	}
	if strings.Join(seen, ",") != "ACCEPT-001,REJECT-004,WIRE-003" {
		t.Errorf("OnResult saw %v", seen)
	}
	if !strings.Contains(rep.TargetOutput, "helper backend: listening in "+filepath.Join(filepath.Dir(tg.File), "work")) {
		t.Errorf("target output does not show the helper's line with start.dir applied:\n%s", rep.TargetOutput)
	}
}

func TestStartSectionStopsBackend(t *testing.T) {
	tg, err := target.Load(helperTarget(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	s, err := suite.NewSession(context.Background(), suite.Config{Target: tg})
	if err != nil {
		t.Fatal(err)
	}
	url := s.Target().Endpoints[0].URL
	if res := s.RunCase(context.Background(), "ACCEPT-001"); res.Status != suite.StatusPassed {
		t.Errorf("ACCEPT-001 = %s: %s", res.Status, res.FailureMessage())
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if resp, err := http.Post(url, "application/x-www-form-urlencoded", nil); err == nil {
		resp.Body.Close()
		t.Errorf("backend still answers at %s after Close", url)
	}
}

func TestStartSectionFailures(t *testing.T) {
	dir := t.TempDir()
	write := func(name, start string) *target.Target {
		y := "kind: v2-checkbox\nstart:\n" + start + "\nendpoints: [{url: 'http://127.0.0.1:{{port}}/', hostnames: [h]}]\nclassify: {accepted: {status: [200]}, rejected: {status: [403]}}\n"
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(y), 0o644); err != nil {
			t.Fatal(err)
		}
		tg, err := target.Load(p)
		if err != nil {
			t.Fatal(err)
		}
		return tg
	}
	tests := []struct {
		name, start string
		want        []string
	}{
		{"exits", `  command: [sh, -c, "echo boom on {{port}}; exit 7"]`, []string{"backend exited before it was ready", "exit status 7", "boom on "}},
		{"never ready", `  command: [sleep, "30"]` + "\n  ready_timeout: 300ms\n  stop_timeout: 1s\n  ready_url: \"http://127.0.0.1:{{port}}/\"",
			[]string{"backend not ready", "start.ready_timeout"}},
		{"no such program", `  command: [./does-not-exist, "{{port}}"]`, []string{"start backend", "does-not-exist"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := suite.Run(context.Background(), suite.Config{Target: write(tc.name+".yaml", tc.start)})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v", d)
			}
			var fe *target.FieldError
			if errors.As(err, &fe) {
				t.Errorf("a start failure is not a target file error")
			}
		})
	}
}

// TestBackendOutputRedactsSecret: a backend that prints its secret does
// not put it in the report, or in a start error, in clear.
func TestBackendOutputRedactsSecret(t *testing.T) {
	tg, _ := wrappedHelperTarget(t, "", `echo "my secret is $HELPER_SECRET"; exec "$0" "$@"`)
	s, err := suite.NewSession(context.Background(), suite.Config{Target: tg})
	if err != nil {
		t.Fatal(err)
	}
	s.RunCase(context.Background(), "ACCEPT-001")
	s.Close()
	out := s.Report().TargetOutput
	if !strings.Contains(out, "my secret is [secret]\n") || strings.Contains(out, s.Site().Secret) {
		t.Errorf("backend output in the report:\n%s", out)
	}

	// Readiness fails: the error quotes the output, redacted too.
	tg, _ = wrappedHelperTarget(t, "", `echo "my secret is $HELPER_SECRET"; exit 5`)
	_, err = suite.NewSession(context.Background(), suite.Config{Target: tg})
	if err == nil || !strings.Contains(err.Error(), "my secret is [secret]") {
		t.Errorf("start error = %v", err)
	}
}
