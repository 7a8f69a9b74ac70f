package suite_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/siteverify/siteverify/mockserver"
	"github.com/siteverify/siteverify/mockserver/intercept"
	"github.com/siteverify/siteverify/suite"
	"github.com/siteverify/siteverify/suite/target"
)

var (
	hardcodedOnce sync.Once
	hardcodedBin  string
	hardcodedErr  error
)

// buildHardcoded builds suite/testdata/hardcoded, the backend that
// verifies on Google's real URL only, once per test binary.
func buildHardcoded(t *testing.T) string {
	t.Helper()
	hardcodedOnce.Do(func() {
		dir, err := os.MkdirTemp("", "siteverify-hardcoded-")
		if err != nil {
			hardcodedErr = err
			return
		}
		hardcodedBin = filepath.Join(dir, "hardcoded")
		if out, err := exec.Command("go", "build", "-o", hardcodedBin, "./testdata/hardcoded").CombinedOutput(); err != nil {
			hardcodedErr = &buildError{err: err, out: string(out)}
		}
	})
	if hardcodedErr != nil {
		t.Fatalf("build testdata/hardcoded: %v", hardcodedErr)
	}
	return hardcodedBin
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

// hardcodedTarget is the target file of the hard-coded backend; option is
// the start section's interception option.
func hardcodedTarget(t *testing.T, bin, option, flaw string) *target.Target {
	t.Helper()
	src := `name: hardcoded
kind: v2-checkbox
start:
  command: ["` + bin + `", -addr, "127.0.0.1:{{port}}"]
  ` + option + `
  env:
    HARDCODED_SECRET: "{{secret}}"
    HARDCODED_HOSTNAME: shop.example.com
    HARDCODED_FLAW: "` + flaw + `"
  ready_url: "http://127.0.0.1:{{port}}/healthz"
endpoints:
  - url: "http://127.0.0.1:{{port}}/login"
    hostnames: [shop.example.com]
classify:
  accepted: {status: [200], json: {path: ok, equals: true}}
  rejected: {status: [403, 503]}
outage:
  answer_within: 5s
`
	tg, err := target.Parse([]byte(src), "")
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func needResolve(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		t.Skip("start.resolve_providers needs Linux and root (port 443, mount namespaces)")
	}
}

// TestHardcodedBackendConforms runs the whole catalog against a backend that
// hard-codes https://www.google.com/recaptcha/api/siteverify and uses
// http.DefaultClient, reached through the proxy (use_proxy) and through
// name resolution (resolve_providers): every case passes, outages included
// (a reset and a hang under TLS reach its client as transport errors, so
// it fails closed).
func TestHardcodedBackendConforms(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a backend and runs the catalog twice")
	}
	bin := buildHardcoded(t)
	for _, option := range []string{"use_proxy: true", "resolve_providers: true"} {
		t.Run(option, func(t *testing.T) {
			if strings.HasPrefix(option, "resolve") {
				needResolve(t)
			}
			t.Parallel()
			tg := hardcodedTarget(t, bin, option, "")
			rep, err := suite.Run(context.Background(), suite.Config{Target: tg, Strict: true, CADir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			rep.WriteConsole(&b, false)
			if failed := rep.Failed(); len(failed) > 0 {
				t.Fatalf("failing cases %v\n%s\nbackend output:\n%s", failed, b.String(), rep.TargetOutput)
			}
			for _, id := range []string{"ACCEPT-001", "REJECT-004", "REJECT-012", "OUTAGE-006", "OUTAGE-007"} {
				if r := result(rep, id); r.Status != suite.StatusPassed {
					t.Errorf("%s: %s", id, r.Status)
				}
			}
			// The backend saw the reset and the hang as transport errors,
			// not as answers.
			for _, w := range []string{"siteverify unusable: Post \"https://www.google.com/recaptcha/api/siteverify\"", "context deadline exceeded"} {
				if !strings.Contains(rep.TargetOutput, w) {
					t.Errorf("backend output lacks %q:\n%s", w, rep.TargetOutput)
				}
			}
		})
	}
}

// TestHardcodedBackendFlaws proves the cases can fail through the real URL:
// a backend that fails open on an unusable answer fails the outage cases
// (the reset and the hang among them), one that skips the hostname check
// fails REJECT-004, on both paths.
func TestHardcodedBackendFlaws(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a backend and runs parts of the catalog")
	}
	bin := buildHardcoded(t)
	outages := []string{"OUTAGE-001", "OUTAGE-002", "OUTAGE-003", "OUTAGE-004", "OUTAGE-005", "OUTAGE-006", "OUTAGE-007"}
	for _, option := range []string{"use_proxy: true", "resolve_providers: true"} {
		for _, row := range []struct {
			flaw  string
			focus []string
			want  []string
		}{
			{"fail-open", append([]string{"ACCEPT-001"}, outages...), outages},
			{"no-hostname-check", []string{"ACCEPT-001", "REJECT-004", "REJECT-012"}, []string{"REJECT-004"}},
		} {
			t.Run(option+" "+row.flaw, func(t *testing.T) {
				if strings.HasPrefix(option, "resolve") {
					needResolve(t)
				}
				t.Parallel()
				tg := hardcodedTarget(t, bin, option, row.flaw)
				rep, err := suite.Run(context.Background(), suite.Config{Target: tg, Focus: row.focus, CADir: t.TempDir()})
				if err != nil {
					t.Fatal(err)
				}
				if got := rep.Failed(); !slices.Equal(got, row.want) {
					var b strings.Builder
					rep.WriteConsole(&b, false)
					t.Fatalf("failing cases = %v, want %v\n%s", got, row.want, b.String())
				}
			})
		}
	}
}

// TestInterceptNeedsInProcessMock checks the error for a remote mock: the
// proxy serves the mock's handler in-process.
func TestInterceptNeedsInProcessMock(t *testing.T) {
	srv := mockserver.New(t)
	c, err := mockserver.Dial(context.Background(), srv.URL(), mockserver.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tg := hardcodedTarget(t, "/bin/false", "use_proxy: true", "")
	_, err = suite.NewSession(context.Background(), suite.Config{Target: tg, Mock: c, CADir: t.TempDir()})
	want := "target hardcoded intercepts the providers' real URLs (start.use_proxy), which serves the mock in-process, but the mock is remote (" + srv.URL() + "); run without --mock-url"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("NewSession with a remote mock: %v\nwant %s", err, want)
	}
}

// TestReadmeTargetFileInterception keeps the README's target-file section
// in step with the code: every placeholder, and every variable the
// interception sets (intercept.ProxyEnvNames, CAEnvNames), is named there.
func TestReadmeTargetFileInterception(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(readme), "\n## The target file\n")
	section, _, _ = strings.Cut(section, "\n## ")
	var want []string
	for _, ph := range target.Placeholders {
		want = append(want, "`{{"+ph.Name+"}}`")
	}
	for _, n := range slices.Concat(intercept.ProxyEnvNames, intercept.NoProxyEnvNames, intercept.CAEnvNames) {
		want = append(want, "`"+n+"`")
	}
	want = append(want, "`use_proxy`", "`resolve_providers`", "`"+intercept.NoProxy+"`")
	for _, w := range want {
		if !strings.Contains(section, w) {
			t.Errorf("README.md's target-file section does not name %s", w)
		}
	}
}
