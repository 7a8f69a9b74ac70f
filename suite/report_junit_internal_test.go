package suite

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
)

// TestJUnitWarningsAndCaseOutput renders a report with a pass, a failure,
// a warning, a crash and a case not run: the warning must be something a
// CI screen shows (a skipped testcase marked as a warning), never a plain
// pass, and each case carries its own backend output.
func TestJUnitWarningsAndCaseOutput(t *testing.T) {
	rep := sampleReport()
	rep.Results[0].Output = "served ACCEPT-001's request\n"
	rep.Results = append(rep.Results,
		Result{ID: "OUTAGE-006", Title: "survives a reset", Level: Must, Area: "outage", Status: StatusFailed, Counted: true,
			Requirement: "The backend MUST keep running.", Crash: &Crash{Status: "exit status 2", Restarted: true},
			Output: "panic: boom\n"},
		Result{ID: "OUTAGE-007", Title: "survives a timeout", Level: Must, Area: "outage", Status: StatusError, Counted: true,
			Actual: "not run: the backend is down"})
	rep.Summary.Failed++
	rep.Summary.Errors++
	rep.Summary.Crashes, rep.Summary.Restarts = 1, 1
	var b bytes.Buffer
	if err := rep.WriteJUnit(&b); err != nil {
		t.Fatal(err)
	}
	var doc junitSuites
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("not XML: %v\n%s", err, b.String())
	}
	s := doc.Suites[0]
	cases := map[string]junitCase{}
	for _, c := range s.Cases {
		id, _, _ := strings.Cut(c.Name, " ")
		cases[id] = c
	}
	warn := cases["WIRE-006"]
	if warn.Skipped == nil || warn.Failure != nil || !strings.HasPrefix(warn.Skipped.Message, "warning: SHOULD requirement not met") ||
		!strings.Contains(warn.Skipped.Message, "The backend SHOULD pass.") || !strings.Contains(warn.Skipped.Text, `actual:      remoteip=""`) {
		t.Errorf("a warning must be a skipped testcase saying warning: %+v", warn)
	}
	if len(warn.Properties) != 1 || warn.Properties[0] != (junitProperty{"siteverify.status", "warning"}) {
		t.Errorf("warning properties = %+v", warn.Properties)
	}
	if s.Skipped != 2 || s.Failures != 2 || s.Errors != 1 || doc.Failures != 3 {
		t.Errorf("counts: suite %d skipped, %d failures, %d errors; top %d failures", s.Skipped, s.Failures, s.Errors, doc.Failures)
	}
	hasProp := func(name, value string) bool {
		for _, p := range s.Properties {
			if p.Name == name && p.Value == value {
				return true
			}
		}
		return false
	}
	if !hasProp("warnings", "1") || !hasProp("backend_crashes", "1") {
		t.Errorf("suite properties = %+v", s.Properties)
	}
	if c := cases["OUTAGE-006"]; c.Failure == nil || c.Failure.Type != "backend-crash" || c.SystemOut == nil || c.SystemOut.Text != "panic: boom\n" {
		t.Errorf("crash case = %+v", c)
	}
	if c := cases["ACCEPT-001"]; c.Failure != nil || c.Skipped != nil || c.SystemOut == nil || c.SystemOut.Text != "served ACCEPT-001's request\n" {
		t.Errorf("passing case = %+v", c)
	}
	if c := cases["OUTAGE-007"]; c.Error == nil || c.Error.Type != "not-run" {
		t.Errorf("case not run = %+v", c)
	}
	if c := cases["REJECT-004"]; c.SystemOut != nil {
		t.Errorf("a case without output has a system-out: %+v", c.SystemOut)
	}
}
