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
	"warning":  func(r suite.Result) bool { return r.Warning() },
}).Parse(pageTemplate))

// Write renders doc to w.
func Write(w io.Writer, doc Document) error {
	if err := tmpl.Execute(w, buildView(doc)); err != nil {
		return fmt.Errorf("render html report: %w", err)
	}
	return nil
}

// view is the template's model: the documents' results arranged as a
// matrix of rows (cases and flows) by columns (runs).
type view struct {
	Document
	Columns []column
	Rows    []row
	Total   counts
}

type column struct {
	Run
	Index   int
	Conform counts
	Browse  counts
	Verdict string // "pass" or "fail"
}

type counts struct{ Passed, Failed, Skipped, Warnings int }

func (c counts) Total() int { return c.Passed + c.Failed + c.Skipped + c.Warnings }

type row struct {
	ID, Title, Kind string // Kind: "case" or "flow"
	Level           string
	Cells           []cell
}

type cell struct {
	Status string // passed, failed, warning, skipped, error, or "" (not run)
	Anchor string
}

func buildView(doc Document) view {
	v := view{Document: doc}
	v.Runs = slices.Clone(doc.Runs)
	for i, r := range v.Runs {
		if r.BackendOutput == "" && r.Conform != nil {
			v.Runs[i].BackendOutput = r.Conform.TargetOutput
		}
	}
	index := map[string]int{} // row key -> position
	addRow := func(key string, r row) int {
		if i, ok := index[key]; ok {
			return i
		}
		r.Cells = make([]cell, len(doc.Runs))
		v.Rows = append(v.Rows, r)
		index[key] = len(v.Rows) - 1
		return len(v.Rows) - 1
	}
	for ci, run := range doc.Runs {
		col := column{Run: run, Index: ci, Verdict: "pass"}
		if run.Conform != nil {
			for _, res := range run.Conform.Results {
				st := string(res.Status)
				switch {
				case res.Warning():
					st = "warning"
					col.Conform.Warnings++
				case res.Status == suite.StatusPassed:
					col.Conform.Passed++
				case res.Status == suite.StatusFailed, res.Status == suite.StatusError:
					// A case not run because the backend was down counts
					// against the run, shown with its own "error" badge.
					col.Conform.Failed++
					col.Verdict = "fail"
				default:
					col.Conform.Skipped++
				}
				i := addRow("case "+res.ID, row{ID: res.ID, Title: res.Title, Kind: "case", Level: string(res.Level)})
				v.Rows[i].Cells[ci] = cell{Status: st, Anchor: anchor(ci, res.ID)}
			}
		}
		if run.Browse != nil {
			for _, res := range run.Browse.Results {
				st := string(res.Status)
				switch res.Status {
				case browser.Passed:
					col.Browse.Passed++
				case browser.Skipped:
					col.Browse.Skipped++
				default:
					col.Browse.Failed++
					col.Verdict = "fail"
				}
				key := "flow " + res.ID + " " + res.Page
				i := addRow(key, row{ID: res.ID, Title: res.Title + " (" + res.Page + ")", Kind: "flow"})
				v.Rows[i].Cells[ci] = cell{Status: st, Anchor: anchor(ci, res.ID+"-"+res.Page)}
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
	return v
}

// anchor is an element id for a result in a run.
func anchor(run int, id string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "r%d-", run)
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
