package suite

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/siteverify/siteverify/mockserver"
)

// Status is a case's outcome.
type Status string

// Statuses.
const (
	StatusPassed  Status = "passed"
	StatusFailed  Status = "failed"
	StatusSkipped Status = "skipped"
	// StatusError is a case that was not run because the harness could
	// not run it: the backend crashed earlier and could not be restarted.
	// It is neither a pass nor a failure of the backend, but it fails the
	// run.
	StatusError Status = "error"
)

// Result is the outcome of one case.
type Result struct {
	// ID, Title, Level, Area, Requirement and Reference are the case's.
	ID          string `json:"id"`
	Title       string `json:"title"`
	Level       Level  `json:"level"`
	Area        string `json:"area"`
	Requirement string `json:"requirement"`
	Reference   string `json:"reference"`
	// Status is passed, failed, skipped or error (not run).
	Status Status `json:"status"`
	// Counted is whether a failure fails the run: true for MUST cases, and
	// for SHOULD cases in strict mode.
	Counted bool `json:"counted"`
	// HarnessError marks a failure of the harness (the mock unreachable,
	// say) rather than of the backend.
	HarnessError bool `json:"harness_error,omitempty"`
	// Expected and Actual describe a failure; Reason a skip.
	Expected string `json:"expected,omitempty"`
	Actual   string `json:"actual,omitempty"`
	Reason   string `json:"reason,omitempty"`
	// Crash is set when the backend crashed during the case (the case then
	// failed), with what the harness did about it.
	Crash *Crash `json:"crash,omitempty"`
	// Steps is what the case sent and what the backend answered.
	Steps []string `json:"steps,omitempty"`
	// Journal holds the siteverify calls the case caused, as the mock saw
	// them (secrets as fingerprints).
	Journal []mockserver.Request `json:"journal,omitempty"`
	// Output is what a backend the harness started wrote while the case
	// ran (from the byte offset of its output at the case's start to the
	// offset once its output went quiet after the case; the last 16 KiB,
	// the target's secret redacted). Report.TargetOutput has all of it.
	Output string `json:"output,omitempty"`
	// Started is when the case began; Duration how long it took (in JSON:
	// duration_ms).
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"-"`
}

// Warning reports whether the result is a failed SHOULD case that does not
// fail the run.
func (r Result) Warning() bool { return r.Status == StatusFailed && !r.Counted }

// MarshalJSON adds duration_ms.
func (r Result) MarshalJSON() ([]byte, error) {
	type plain Result
	return json.Marshal(struct {
		plain
		DurationMS float64 `json:"duration_ms"`
	}{plain(r), ms(r.Duration)})
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// FailureMessage is the text a test framework shows for a failed case:
// title, requirement, expected, actual, what the case did and the journal.
func (r Result) FailureMessage() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", r.ID, r.Title)
	r.writeDetails(&b, "")
	return b.String()
}

func (r Result) writeDetails(w io.Writer, indent string) {
	field := func(name, val string) {
		if val == "" {
			return
		}
		lines := strings.Split(val, "\n")
		fmt.Fprintf(w, "%s%-12s %s\n", indent, name+":", lines[0])
		for _, l := range lines[1:] {
			fmt.Fprintf(w, "%s%-12s %s\n", indent, "", l)
		}
	}
	field("requirement", r.Requirement)
	field("expected", r.Expected)
	field("actual", r.Actual)
	field("reason", r.Reason)
	if len(r.Steps) > 0 {
		fmt.Fprintf(w, "%ssteps:\n", indent)
		for _, s := range r.Steps {
			fmt.Fprintf(w, "%s  %s\n", indent, s)
		}
	}
	fmt.Fprintf(w, "%sjournal:\n", indent)
	for _, l := range strings.Split(strings.TrimRight(mockserver.Dump(r.Journal), "\n"), "\n") {
		fmt.Fprintf(w, "%s%s\n", indent, l)
	}
}

// Summary counts results.
type Summary struct {
	Passed  int `json:"passed"`
	Failed  int `json:"failed"`
	Skipped int `json:"skipped"`
	// Warnings are failed SHOULD cases not counted as failures (they are
	// not in Failed).
	Warnings int `json:"warnings"`
	// Errors are cases not run because the backend was down for good.
	Errors int `json:"errors,omitempty"`
	// Crashes counts backend crashes; Restarts how many of them the
	// harness recovered from by restarting the backend.
	Crashes  int `json:"crashes,omitempty"`
	Restarts int `json:"restarts,omitempty"`
}

// Report is the outcome of a run.
type Report struct {
	// Target, TargetFile, Kind and OutagePolicy describe the target.
	Target       string `json:"target"`
	TargetFile   string `json:"target_file,omitempty"`
	Kind         string `json:"kind"`
	OutagePolicy string `json:"outage_policy"`
	// MockURL is the mock the run used.
	MockURL string `json:"mock_url"`
	// Strict and Seed are the run's settings (Seed 0: catalog order).
	Strict bool  `json:"strict"`
	Seed   int64 `json:"seed,omitempty"`
	// Started is when the run began.
	Started time.Time `json:"started"`
	// Duration is the whole run's, backend start and stop included.
	Duration time.Duration `json:"-"`
	Summary  Summary       `json:"summary"`
	// Results are in catalog order.
	Results []Result `json:"results"`
	// TargetOutput is what a backend the harness started wrote (the last
	// 256 KiB).
	TargetOutput string `json:"target_output,omitempty"`
	// Notes are remarks about the run itself.
	Notes []string `json:"notes,omitempty"`
}

// Passed reports whether no counted case failed and every selected case
// ran.
func (r Report) Passed() bool { return r.Summary.Failed == 0 && r.Summary.Errors == 0 }

// Failed returns the IDs of failed cases, warnings included, in catalog
// order.
func (r Report) Failed() []string {
	var out []string
	for _, res := range r.Results {
		if res.Status == StatusFailed {
			out = append(out, res.ID)
		}
	}
	return out
}

// MarshalJSON adds duration_ms and passed.
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report
	return json.Marshal(struct {
		plain
		DurationMS float64 `json:"duration_ms"`
		Passed     bool    `json:"passed"`
	}{plain(r), ms(r.Duration), r.Passed()})
}

// Report builds the report of the cases run so far.
func (s *Session) Report() Report {
	s.mu.Lock()
	results := append([]Result(nil), s.results...)
	ended := s.ended
	notes := append([]string(nil), s.notes...)
	s.mu.Unlock()
	if ended.IsZero() {
		ended = time.Now()
	}
	order := map[string]int{}
	for i, c := range catalog {
		order[c.ID] = i
	}
	sort.SliceStable(results, func(i, j int) bool { return order[results[i].ID] < order[results[j].ID] })
	rep := Report{
		Target: s.cfg.Target.Name, TargetFile: s.cfg.Target.File, Kind: string(s.cfg.Target.Kind),
		OutagePolicy: s.cfg.Target.Outage.Policy, MockURL: s.mock.URL(), Strict: s.cfg.Strict, Seed: s.cfg.Seed,
		Started: s.started, Duration: ended.Sub(s.started), Results: results, TargetOutput: s.BackendOutput(),
		Notes: notes,
	}
	for _, r := range results {
		if r.Crash != nil {
			rep.Summary.Crashes++
			if r.Crash.Restarted {
				rep.Summary.Restarts++
			}
		}
		switch {
		case r.Status == StatusError:
			rep.Summary.Errors++
		case r.Status == StatusPassed:
			rep.Summary.Passed++
		case r.Status == StatusSkipped:
			rep.Summary.Skipped++
		case r.Warning():
			rep.Summary.Warnings++
		default:
			rep.Summary.Failed++
		}
	}
	return rep
}

// WriteJSON writes the report as indented JSON.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// ConsoleLine formats one result as a console line:
// "PASS  ACCEPT-001  accepts a valid token  (12ms)". Failed SHOULD cases
// that do not count are WARN.
func ConsoleLine(r Result) string {
	tag := map[Status]string{StatusPassed: "PASS", StatusFailed: "FAIL", StatusSkipped: "SKIP", StatusError: "ERR"}[r.Status]
	if r.Warning() {
		tag = "WARN"
	}
	line := fmt.Sprintf("%-4s  %-10s  %s  (%s)", tag, r.ID, r.Title, roundDuration(r.Duration))
	switch {
	case r.Status == StatusSkipped && r.Reason != "":
		line += "  " + strings.ReplaceAll(r.Reason, "\n", "; ")
	case r.Status == StatusError:
		line += "  " + firstLine(r.Actual)
	case r.Crash != nil:
		line += "  BACKEND CRASHED: " + r.Crash.String()
	}
	return line
}

// WriteConsoleResult writes a result's console line and, for a failure,
// warning (or any result when verbose), its indented details.
func WriteConsoleResult(w io.Writer, r Result, verbose bool) {
	fmt.Fprintln(w, ConsoleLine(r))
	if r.Status == StatusFailed || (verbose && r.Status != StatusSkipped) {
		r.writeDetails(w, "      ")
	}
}

// SummaryLine is "N passed, N failed, N skipped", plus warnings when there
// are any.
func (r Report) SummaryLine() string {
	s := fmt.Sprintf("%d passed, %d failed, %d skipped", r.Summary.Passed, r.Summary.Failed, r.Summary.Skipped)
	if r.Summary.Warnings > 0 {
		s += fmt.Sprintf(", %d warning(s) (failed SHOULD cases; --strict counts them)", r.Summary.Warnings)
	}
	if r.Summary.Crashes > 0 {
		s += fmt.Sprintf(", %d backend crash(es), %d restart(s)", r.Summary.Crashes, r.Summary.Restarts)
	}
	if r.Summary.Errors > 0 {
		s += fmt.Sprintf(", %d not run (backend down)", r.Summary.Errors)
	}
	return s
}

// WriteConsole writes every result's line (with details of failures) and
// the summary line. Use it for a report built after the fact; a live run
// prints results through Config.OnResult instead.
func (r Report) WriteConsole(w io.Writer, verbose bool) {
	for _, res := range r.Results {
		WriteConsoleResult(w, res, verbose)
	}
	r.WriteSummary(w, verbose)
}

// WriteSummary writes notes, the backend's output when verbose or when
// the run failed, and the summary line.
func (r Report) WriteSummary(w io.Writer, verbose bool) {
	for _, n := range r.Notes {
		fmt.Fprintln(w, "note: "+n)
	}
	if r.TargetOutput != "" && (verbose || !r.Passed()) {
		fmt.Fprintf(w, "\nbackend output (%s):\n%s\n", r.Target, indent(r.TargetOutput))
	}
	fmt.Fprintf(w, "\n%s  (%s, %s)\n", r.SummaryLine(), r.Target, r.Duration.Round(time.Millisecond))
}

// JUnit XML, in the shape Jenkins, GitLab and GitHub reporters read.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
	SystemOut  *junitText      `xml:"system-out,omitempty"`
}

// junitText is element text written as CDATA, so newlines stay readable.
type junitText struct {
	Text string `xml:",cdata"`
}

func cdata(s string) *junitText {
	if s == "" {
		return nil
	}
	return &junitText{Text: xmlSafe(s)}
}

// xmlSafe replaces characters XML 1.0 does not allow (most control
// characters, invalid UTF-8) with U+FFFD: a backend's output can hold them.
func xmlSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			return r
		case r < 0x20 || r == 0xFFFE || r == 0xFFFF || (r >= 0xD800 && r <= 0xDFFF):
			return '\uFFFD'
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string `xml:"name,attr"`
	Classname string `xml:"classname,attr"`
	Time      string `xml:"time,attr"`
	// Properties on a testcase are an extension of the format (pytest
	// writes them too); readers that do not know them ignore them.
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Failure    *junitMessage   `xml:"failure,omitempty"`
	Error      *junitMessage   `xml:"error,omitempty"`
	Skipped    *junitMessage   `xml:"skipped,omitempty"`
	SystemOut  *junitText      `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",cdata"`
}

func secs(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// WriteJUnit writes the report as JUnit XML: one testsuite, one testcase
// per case named "ID title" with the area as class name, its backend output
// as its system-out. A warning (failed SHOULD case outside strict mode) is a
// <skipped message="warning: ..."> with the failure's details and a
// property siteverify.status=warning, so CI screens show it as skipped (not
// as a silent pass) without failing the build; the suite's warnings
// property counts them. A harness error is an <error>.
func (r Report) WriteJUnit(w io.Writer) error {
	s := junitSuite{
		Name: "siteverify conform " + r.Target, Time: secs(r.Duration), Timestamp: r.Started.UTC().Format(time.RFC3339),
		Properties: []junitProperty{{"target", r.Target}, {"kind", r.Kind}, {"outage_policy", r.OutagePolicy},
			{"strict", fmt.Sprint(r.Strict)}, {"seed", fmt.Sprint(r.Seed)}},
		SystemOut: cdata(r.TargetOutput),
	}
	if r.Summary.Crashes > 0 {
		s.Properties = append(s.Properties, junitProperty{"backend_crashes", fmt.Sprint(r.Summary.Crashes)},
			junitProperty{"backend_restarts", fmt.Sprint(r.Summary.Restarts)})
	}
	for _, n := range r.Notes {
		s.Properties = append(s.Properties, junitProperty{"note", xmlSafe(n)})
	}
	for _, res := range r.Results {
		c := junitCase{Name: res.ID + " " + res.Title, Classname: "siteverify.conform." + res.Area, Time: secs(res.Duration)}
		var details strings.Builder
		res.writeDetails(&details, "")
		switch {
		case res.Status == StatusSkipped:
			c.Skipped = &junitMessage{Message: res.Reason}
			s.Skipped++
		case res.Warning():
			c.Skipped = &junitMessage{Message: xmlSafe("warning: SHOULD requirement not met (counted only with --strict): " + res.Requirement),
				Type: "warning", Text: xmlSafe(details.String())}
			c.Properties = []junitProperty{{"siteverify.status", "warning"}}
			s.Skipped++
		case res.Status == StatusError:
			c.Error = &junitMessage{Message: xmlSafe(firstLine(res.Actual)), Type: "not-run", Text: xmlSafe(details.String())}
			s.Errors++
		case res.Status == StatusFailed && res.Crash != nil:
			c.Failure = &junitMessage{Message: xmlSafe("backend crashed: " + res.Crash.String()), Type: "backend-crash", Text: xmlSafe(details.String())}
			s.Failures++
		case res.Status == StatusFailed && res.HarnessError:
			c.Error = &junitMessage{Message: xmlSafe(firstLine(res.Actual)), Type: "harness", Text: xmlSafe(details.String())}
			s.Errors++
		case res.Status == StatusFailed:
			c.Failure = &junitMessage{Message: string(res.Level) + ": " + res.Requirement, Type: res.ID, Text: xmlSafe(details.String())}
			s.Failures++
		}
		if res.Output != "" {
			c.SystemOut = cdata(res.Output)
		}
		s.Cases = append(s.Cases, c)
	}
	if r.Summary.Warnings > 0 {
		s.Properties = append(s.Properties, junitProperty{"warnings", fmt.Sprint(r.Summary.Warnings)})
	}
	s.Tests = len(s.Cases)
	doc := junitSuites{Name: "siteverify conform", Tests: s.Tests, Failures: s.Failures + s.Errors, Skipped: s.Skipped,
		Time: s.Time, Suites: []junitSuite{s}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// roundDuration keeps two or three significant digits: 0.4ms, 12ms, 1.002s.
func roundDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	case d < time.Second:
		return d.Round(time.Millisecond / 10).String()
	}
	return d.Round(time.Millisecond).String()
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
