// Package htmlreport renders conformance and browser-flow results as one
// self-contained HTML file: styles inline, screenshots embedded as data
// URIs, no scripts, so the file can be attached to a CI run and opened
// anywhere.
package htmlreport

import (
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/siteverify/siteverify/browser"
	"github.com/siteverify/siteverify/mockserver"
	"github.com/siteverify/siteverify/suite"
)

// Run is one target's results: a conformance run, a browser run, or both.
type Run struct {
	// Name labels the run's column, e.g. "reference backend".
	Name string
	// Description says what was tested, in a sentence.
	Description string
	// Conform and Browse are the results; either may be nil.
	Conform *suite.Report
	Browse  *browser.Report
	// Expectation, when set, says what the reader should see (the demo's
	// flawed variant is expected to fail).
	Expectation string
	// BackendOutput is what the backend under test wrote; empty means the
	// conformance report's TargetOutput.
	BackendOutput string
}

// Document is what the report shows.
type Document struct {
	// Title heads the page.
	Title string
	// Generated is when the report was written.
	Generated time.Time
	// Version is the tool's version string.
	Version string
	// Runs are shown side by side in the matrix, in order.
	Runs []Run
}

//go:embed report.html.tmpl
var pageTemplate string

var tmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"dump": func(entries []mockserver.Request) string { return mockserver.Dump(entries) },
	"png": func(b []byte) template.URL {
		return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(b))
	},
	"duration": roundDuration,
	"lower":    strings.ToLower,
	"join":     strings.Join,
	"anchor":   anchor,
	"lines":    func(s string) int { return strings.Count(strings.TrimRight(s, "\n"), "\n") + 1 },
}).Parse(pageTemplate))

// Write renders doc to w.
func Write(w io.Writer, doc Document) error {
	if err := tmpl.Execute(w, buildView(doc)); err != nil {
		return fmt.Errorf("render html report: %w", err)
	}
	return nil
}

// view is the template's model: the documents' results arranged as one
// list of rows (cases, then flows), each row a line of the matrix (one
// status per run) that opens onto its details in every run.
type view struct {
	Document
	Columns  []column
	CaseRows []row
	FlowRows []row
	Total    counts
	// Grid lays out a row's line: ID, title, then one status column per run.
	Grid template.CSS
}

type column struct {
	Run
	Index   int
	Conform counts
	Browse  counts
	Verdict string // "pass" or "fail"
	// Failed, Warnings and NotRun name the results the summary lists: failed
	// cases and flows (crashes and harness errors included), failed SHOULD
	// cases, and cases not run because the backend was down.
	Failed, Warnings, NotRun []link
	// OutputAttributed is whether any result carries its own backend
	// output; when none does, the whole output is shown open on a failure.
	OutputAttributed bool
}

// link names a result in the summary.
type link struct {
	ID, Title, Anchor string
	Note              string // e.g. "backend crashed"
}

type counts struct{ Passed, Failed, Skipped, Warnings int }

func (c counts) Total() int { return c.Passed + c.Failed + c.Skipped + c.Warnings }

type row struct {
	ID, Title, Level string
	Anchor           string
	Cells            []cell
	// Open is whether the row starts unfolded: something in it failed or
	// warned. Worst is that status, for the row's colour.
	Open  bool
	Worst string
}

// cell is one run's result in a row.
type cell struct {
	Status string // passed, failed, warning, skipped, error, or "" (not run)
	Anchor string
	Run    string // the run's name
	Open   bool
	Case   *suite.Result
	Flow   *browser.Result
}

// needsAttention tells the statuses that unfold a row and name it in the
// summary.
func needsAttention(status string) bool {
	return status == "failed" || status == "error" || status == "warning"
}

// severity orders statuses for a row's colour.
var severity = map[string]int{"failed": 3, "error": 3, "warning": 2}

func buildView(doc Document) view {
	v := view{Document: doc}
	v.Runs = slices.Clone(doc.Runs)
	for i, r := range v.Runs {
		if r.BackendOutput == "" && r.Conform != nil {
			v.Runs[i].BackendOutput = r.Conform.TargetOutput
		}
	}
	single := len(doc.Runs) == 1
	caseIndex, flowIndex := map[string]int{}, map[string]int{}
	addRow := func(rows *[]row, index map[string]int, key string, r row) *row {
		i, ok := index[key]
		if !ok {
			r.Cells = make([]cell, len(doc.Runs))
			*rows = append(*rows, r)
			i = len(*rows) - 1
			index[key] = i
		}
		return &(*rows)[i]
	}
	setCell := func(r *row, ci int, c cell) {
		c.Run = doc.Runs[ci].Name
		c.Open = single || needsAttention(c.Status)
		r.Cells[ci] = c
		if needsAttention(c.Status) {
			r.Open = true
			if severity[c.Status] > severity[r.Worst] {
				r.Worst = c.Status
			}
		}
	}
	for ci, run := range doc.Runs {
		col := column{Run: v.Runs[ci], Index: ci, Verdict: "pass"}
		if run.Conform != nil {
			for k := range run.Conform.Results {
				res := &run.Conform.Results[k]
				st := caseStatus(*res)
				a := anchor(ci, res.ID)
				l := link{ID: res.ID, Title: res.Title, Anchor: a}
				if res.Crash != nil {
					l.Note = "backend crashed"
				} else if res.HarnessError {
					l.Note = "harness error"
				}
				switch st {
				case "warning":
					col.Conform.Warnings++
					col.Warnings = append(col.Warnings, l)
				case "passed":
					col.Conform.Passed++
				case "failed":
					col.Conform.Failed++
					col.Verdict = "fail"
					col.Failed = append(col.Failed, l)
				case "error":
					// A case not run because the backend was down counts
					// against the run, shown with its own "error" badge.
					col.Conform.Failed++
					col.Verdict = "fail"
					col.NotRun = append(col.NotRun, l)
				default:
					col.Conform.Skipped++
				}
				if res.Output != "" {
					col.OutputAttributed = true
				}
				r := addRow(&v.CaseRows, caseIndex, res.ID, row{ID: res.ID, Title: res.Title, Level: string(res.Level), Anchor: anchor(-1, "case-"+res.ID)})
				setCell(r, ci, cell{Status: st, Anchor: a, Case: res})
			}
		}
		if run.Browse != nil {
			for k := range run.Browse.Results {
				res := &run.Browse.Results[k]
				st := string(res.Status)
				a := anchor(ci, res.ID+"-"+res.Page)
				switch res.Status {
				case browser.Passed:
					col.Browse.Passed++
				case browser.Skipped:
					col.Browse.Skipped++
				default:
					col.Browse.Failed++
					col.Verdict = "fail"
					col.Failed = append(col.Failed, link{ID: res.ID, Title: res.Title + " (page " + res.Page + ")", Anchor: a})
				}
				r := addRow(&v.FlowRows, flowIndex, res.ID+" "+res.Page,
					row{ID: res.ID, Title: res.Title + " (" + res.Page + ")", Anchor: anchor(-1, "flow-"+res.ID+"-"+res.Page)})
				setCell(r, ci, cell{Status: st, Anchor: a, Flow: res})
			}
		}
		for _, c := range []counts{col.Conform, col.Browse} {
			v.Total.Passed += c.Passed
			v.Total.Failed += c.Failed
			v.Total.Skipped += c.Skipped
			v.Total.Warnings += c.Warnings
		}
		v.Columns = append(v.Columns, col)
	}
	// Only digits go into the style: safe to mark as CSS.
	v.Grid = template.CSS(fmt.Sprintf("grid-template-columns: 9.5em minmax(0, 1fr) repeat(%d, 8.5em)", max(len(doc.Runs), 1)))
	return v
}

// caseStatus is a case's badge: its status, or "warning" for a failed
// SHOULD case that does not count.
func caseStatus(r suite.Result) string {
	if r.Warning() {
		return "warning"
	}
	return string(r.Status)
}

// anchor is an element id for a result in a run (or, for run -1, for a
// row).
func anchor(run int, id string) string {
	var b strings.Builder
	if run >= 0 {
		fmt.Fprintf(&b, "r%d-", run)
	}
	for _, r := range id {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

func roundDuration(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	}
	return d.Round(10 * time.Microsecond).String()
}
