package suite_test

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/siteverify/siteverify/suite"
)

// processProven lists the flaws the in-process self-test cannot show,
// because only a backend the harness started can show them: a crash (the
// test binary would die with it) or a line in the backend's output (which
// the harness captures only from a process it started).
// TestProcessFlaws runs the whole catalog against the reference backend
// built as a program and started by the harness from each fixture target,
// and asserts the exact set of failing cases; TestSelfTestCoversCatalog
// counts these rows as proofs.
// encodableSecret names the v3 fixture run with a secret that URL
// encoding changes.
const encodableSecret = "v3 +/= secret"

var processProven = []struct {
	flaws    string
	fixtures []string
	want     []string
}{
	{"crash-on-closed-connection", allKinds, []string{"OUTAGE-009"}}, // the case's valid token after the close gets no answer
	{"log-secret", allKinds, []string{"LEAK-003"}},                   // the secret in the output, per siteverify call
	// A secret that form encoding changes ('+', '/', '='): the log holds
	// only its encoded form (suite/MUTATIONS.md M59).
	{"log-secret", []string{encodableSecret}, []string{"LEAK-003"}},
	// The key in the logged URL of a failed call: LEAK-003 reads the same
	// output (in process ENT-006 fails alone, on the answer).
	{"logs-api-key-in-url", entFixtures, []string{"LEAK-003", "ENT-006"}},
}

func TestProcessFlaws(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the reference backend and runs the catalog against it as a process, once per row and fixture")
	}
	bin := t.TempDir()
	if out, err := exec.Command("go", "build", "-o", bin+string(os.PathSeparator), "../fixtures/refbackend/cmd/refbackend").CombinedOutput(); err != nil {
		t.Fatalf("build refbackend: %v\n%s", err, out)
	}
	for _, row := range processProven {
		for _, fx := range row.fixtures {
			t.Run(fx+" "+row.flaws, func(t *testing.T) {
				t.Parallel()
				fixture := fx
				if fx == encodableSecret {
					fixture = "v3"
				}
				tg, err := loadFixture(fixture)
				if err != nil {
					t.Fatal(err)
				}
				if fx == encodableSecret {
					tg.Secret = "6LcEncodable+Secret/Holds=Chars0000000001"
				}
				env := append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "REFBACKEND_FLAWS="+row.flaws)
				rep, err := suite.Run(context.Background(), suite.Config{Target: tg, Strict: true, Environ: env})
				if err != nil {
					t.Fatal(err)
				}
				var b strings.Builder
				rep.WriteConsole(&b, false)
				if got := rep.Failed(); !slices.Equal(got, row.want) {
					t.Fatalf("failing cases = %v, want %v\n%s", got, row.want, b.String())
				}
				for _, r := range rep.Results {
					if r.HarnessError {
						t.Errorf("%s: harness error: %s", r.ID, r.Actual)
					}
				}
				switch row.flaws {
				case "crash-on-closed-connection":
					// The case's own check fails first; the harness adds the crash.
					r := result(rep, "OUTAGE-009")
					for _, w := range []string{"backend crashed: exit status 2", "a fresh valid token got no answer",
						"a closed connection", "the harness restarted the backend"} {
						if !strings.Contains(r.Actual, w) {
							t.Errorf("OUTAGE-009 actual lacks %q:\n%s", w, r.Actual)
						}
					}
					if rep.Summary.Crashes != 1 || rep.Summary.Restarts != 1 {
						t.Errorf("summary = %+v, want 1 crash and 1 restart", rep.Summary)
					}
				case "log-secret":
					r := result(rep, "LEAK-003")
					secret := tg.Secret
					if !strings.Contains(r.Actual, "the backend's output") || strings.Contains(r.Actual, secret) {
						t.Errorf("LEAK-003 actual does not name the output, or shows the secret:\n%s", r.Actual)
					}
					// secret=[secret] in a siteverify form body, x-goog-api-key=[secret] for Enterprise
					if strings.Contains(rep.TargetOutput, secret) || strings.Contains(rep.TargetOutput, url.QueryEscape(secret)) ||
						!strings.Contains(rep.TargetOutput, "=[secret]") {
						t.Errorf("the report's backend output is not redacted:\n%s", rep.TargetOutput)
					}
				}
			})
		}
	}
}

func result(rep suite.Report, id string) suite.Result {
	for _, r := range rep.Results {
		if r.ID == id {
			return r
		}
	}
	return suite.Result{}
}
