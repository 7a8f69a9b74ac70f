package suite_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/siteverify/siteverify/suite"
	"github.com/siteverify/siteverify/suite/target"
)

// TestCrashRestart runs the whole catalog against the reference backend
// with the crash-on-transport-error flaw, started as a process: the four
// cases whose siteverify call fails at the transport (a call held past the
// backend's 1s client timeout in WIRE-009, a reset, a hang, and OUTAGE-009's
// closed connection) crash it.
// Each of them fails with "backend crashed", the harness restarts the
// backend, and every later case is judged on the new process and passes.
func TestCrashRestart(t *testing.T) {
	t.Parallel()
	tg, err := target.Load(helperTarget(t, `    HELPER_FLAWS: crash-on-transport-error`))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := suite.Run(context.Background(), suite.Config{Target: tg, Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	var console bytes.Buffer
	rep.WriteConsole(&console, false)
	want := []string{"WIRE-009", "OUTAGE-006", "OUTAGE-007", "OUTAGE-009"}
	if got := rep.Failed(); !slices.Equal(got, want) {
		t.Fatalf("failed cases = %v, want %v\n%s", got, want, console.String())
	}
	for _, r := range rep.Results {
		switch {
		case slices.Contains(want, r.ID):
			if r.Crash == nil || !r.Crash.Restarted || r.Crash.Status != "exit status 2" {
				t.Errorf("%s: crash = %+v, want exit status 2, restarted", r.ID, r.Crash)
			}
			for _, w := range []string{"backend crashed: exit status 2", "unhandled siteverify transport error", "the harness restarted the backend"} {
				if !strings.Contains(r.Actual, w) {
					t.Errorf("%s: actual lacks %q:\n%s", r.ID, w, r.Actual)
				}
			}
		case !mustLookup(t, r.ID).AppliesTo(tg.Kind):
			if r.Status != suite.StatusSkipped {
				t.Errorf("%s: %s, want skipped (not for %s)", r.ID, r.Status, tg.Kind)
			}
		case r.Status != suite.StatusPassed:
			t.Errorf("%s: %s, want passed on the restarted backend: %s", r.ID, r.Status, r.Actual)
		}
	}
	if s := rep.Summary; s.Crashes != 4 || s.Restarts != 4 || s.Errors != 0 || s.Failed != 4 {
		t.Errorf("summary = %+v", s)
	}
	if len(rep.Notes) != 4 || !strings.Contains(rep.Notes[1], "the backend crashed during OUTAGE-006 (exit status 2); restarted, ready in") {
		t.Errorf("notes = %q", rep.Notes)
	}
	if !strings.Contains(rep.TargetOutput, "--- siteverify: the backend crashed during OUTAGE-007 (exit status 2); restarting it ---") {
		t.Errorf("the backend output does not mark the restart:\n%s", rep.TargetOutput)
	}

	// Every report shows the crash and the restart.
	c := console.String()
	for _, w := range []string{"FAIL  OUTAGE-006", "BACKEND CRASHED: exit status 2; the harness restarted the backend", "4 backend crash(es), 4 restart(s)",
		"note: the backend crashed during OUTAGE-007"} {
		if !strings.Contains(c, w) {
			t.Errorf("console report lacks %q:\n%s", w, c)
		}
	}
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Summary suite.Summary `json:"summary"`
		Results []struct {
			ID    string         `json:"id"`
			Crash map[string]any `json:"crash"`
		} `json:"results"`
	}
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	crashes := 0
	for _, r := range back.Results {
		if r.Crash != nil {
			crashes++
			if r.Crash["status"] != "exit status 2" || r.Crash["restarted"] != true {
				t.Errorf("JSON crash of %s = %v", r.ID, r.Crash)
			}
		}
	}
	if crashes != 4 || back.Summary.Restarts != 4 {
		t.Errorf("JSON: %d crashes, summary %+v", crashes, back.Summary)
	}
	var ju bytes.Buffer
	if err := rep.WriteJUnit(&ju); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Suites []struct {
			Props []struct {
				Name  string `xml:"name,attr"`
				Value string `xml:"value,attr"`
			} `xml:"properties>property"`
			Cases []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
					Type    string `xml:"type,attr"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(ju.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	var crashed []string
	props := map[string]string{}
	for _, p := range doc.Suites[0].Props {
		props[p.Name] = p.Value
	}
	for _, tc := range doc.Suites[0].Cases {
		if tc.Failure != nil && tc.Failure.Type == "backend-crash" && strings.Contains(tc.Failure.Message, "restarted") {
			crashed = append(crashed, strings.Fields(tc.Name)[0])
		}
	}
	if !slices.Equal(crashed, want) || props["backend_restarts"] != "4" {
		t.Errorf("JUnit: crashed cases %v, properties %v", crashed, props)
	}
}

// TestCrashRestartFails: when the backend cannot be started again, the
// case that crashed it fails and the remaining cases are not run: an
// error, never a failure.
func TestCrashRestartFails(t *testing.T) {
	t.Parallel()
	// A second start exits 9.
	tg, _ := wrappedHelperTarget(t, `    HELPER_FLAWS: crash-on-transport-error`,
		`if [ -e started ]; then echo "cannot start twice" >&2; exit 9; fi; touch started; exec "$0" "$@"`)
	rep, err := suite.Run(context.Background(), suite.Config{Target: tg, Focus: []string{"ACCEPT-001", "OUTAGE-006", "OUTAGE-008", "LEAK-001"}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]suite.Status{}
	for _, r := range rep.Results {
		got[r.ID] = r.Status
	}
	want := map[string]suite.Status{"ACCEPT-001": suite.StatusPassed, "OUTAGE-006": suite.StatusFailed,
		"OUTAGE-008": suite.StatusError, "LEAK-001": suite.StatusError}
	var console bytes.Buffer
	rep.WriteConsole(&console, false)
	for id, st := range want {
		if got[id] != st {
			t.Errorf("%s: %s, want %s\n%s", id, got[id], st, console.String())
		}
	}
	if r := rep.Results[1]; r.Crash == nil || r.Crash.Restarted || !strings.Contains(r.Crash.RestartError, "exit status 9") ||
		!strings.Contains(r.Crash.RestartError, "cannot start twice") {
		t.Errorf("OUTAGE-006 crash = %+v", r.Crash)
	}
	if r := rep.Results[2]; !strings.HasPrefix(r.Actual, "not run: the backend crashed during OUTAGE-006 (exit status 2) and could not be restarted") {
		t.Errorf("OUTAGE-008 actual = %q", r.Actual)
	}
	if s := rep.Summary; rep.Passed() || s.Errors != 2 || s.Failed != 1 || s.Crashes != 1 || s.Restarts != 0 {
		t.Errorf("passed=%v summary=%+v", rep.Passed(), s)
	}
	c := console.String()
	for _, w := range []string{"ERR   OUTAGE-008", "2 not run (backend down)"} {
		if !strings.Contains(c, w) {
			t.Errorf("console lacks %q:\n%s", w, c)
		}
	}
	var ju bytes.Buffer
	_ = rep.WriteJUnit(&ju)
	if n := strings.Count(ju.String(), `<error message="not run: the backend crashed during OUTAGE-006`); n != 2 {
		t.Errorf("JUnit has %d not-run errors, want 2:\n%s", n, ju.String())
	}
	_ = filepath.Join
}

// TestCrashWhenHangClosed: a backend with no timeout that dies on a
// transport error (npm google-recaptcha does) waits out OUTAGE-007's hang,
// and dies only when the harness closes the held call at the case's end.
// The crash belongs to OUTAGE-007, whatever runs next: OUTAGE-008 passes on
// the restarted backend. Before, the crash landed in whichever case ran
// when the process got round to dying.
func TestCrashWhenHangClosed(t *testing.T) {
	t.Parallel()
	tg, err := target.Load(helperTarget(t, `    HELPER_FLAWS: no-timeout,crash-on-transport-error`))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := suite.Run(context.Background(), suite.Config{Target: tg, Strict: true, Focus: []string{"OUTAGE-007", "OUTAGE-008"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 2 {
		t.Fatalf("%d results, want 2", len(rep.Results))
	}
	hang, next := rep.Results[0], rep.Results[1]
	if hang.ID != "OUTAGE-007" || hang.Status != suite.StatusFailed || hang.Crash == nil || !hang.Crash.Restarted {
		t.Fatalf("OUTAGE-007: %s, crash %+v, want failed with a restarted crash:\n%s", hang.Status, hang.Crash, hang.Actual)
	}
	for _, w := range []string{"backend crashed: exit status 2, once the harness closed the siteverify call the case left hanging",
		"the case saw: no answer after", "unhandled siteverify transport error"} {
		if !strings.Contains(hang.Actual, w) {
			t.Errorf("OUTAGE-007's actual lacks %q:\n%s", w, hang.Actual)
		}
	}
	if next.ID != "OUTAGE-008" || next.Status != suite.StatusPassed || next.Crash != nil {
		t.Errorf("OUTAGE-008: %s, crash %+v, want passed on the restarted backend:\n%s", next.Status, next.Crash, next.Actual)
	}
	if rep.Summary.Crashes != 1 || rep.Summary.Restarts != 1 {
		t.Errorf("summary %+v, want 1 crash and 1 restart", rep.Summary)
	}
}

func mustLookup(t *testing.T, id string) suite.Case {
	t.Helper()
	c, ok := suite.Lookup(id)
	if !ok {
		t.Fatalf("no case %s", id)
	}
	return c
}
