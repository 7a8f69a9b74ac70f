package suite

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/siteverify/siteverify/mockserver"
	"github.com/siteverify/siteverify/suite/target"
)

func TestClassifyAnswer(t *testing.T) {
	tg, err := target.Parse([]byte(`
kind: v2-checkbox
sitekey: a
secret: b
endpoints: [{url: "http://x/", hostnames: [h]}]
classify:
  accepted: {status: [200, 302], json: {path: result.ok, equals: true}}
  rejected: {status: [200, 403], body_contains: denied}
  challenge: {header: {name: Location, contains: /challenge}}
`), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := &tg.Classify
	tests := []struct {
		status int
		header http.Header
		body   string
		want   Class
	}{
		{200, nil, `{"result":{"ok":true}}`, Accepted},
		{200, nil, `{"result":{"ok":1}}`, Unclassified},
		{200, nil, `{"result":{"ok":true},"msg":"denied"}`, Rejected}, // looks like both: never an acceptance
		{403, nil, `access denied`, Rejected},
		{403, nil, `nope`, Unclassified},
		{302, http.Header{"Location": {"/challenge?x"}}, ``, Challenged},
		{500, nil, `{"result":{"ok":true}}`, Unclassified},
		{200, nil, `not json`, Unclassified},
	}
	for _, tc := range tests {
		h := tc.header
		if h == nil {
			h = http.Header{}
		}
		if got := classifyAnswer(c, tc.status, h, []byte(tc.body)); got != tc.want {
			t.Errorf("classify(%d %v %q) = %s, want %s", tc.status, tc.header, tc.body, got, tc.want)
		}
	}
	if !jsonEqual(float64(200), 200) || !jsonEqual([]any{"a"}, []any{"a"}) || jsonEqual("true", true) {
		t.Errorf("jsonEqual")
	}
	if v, ok := lookupPath(map[string]any{"a": []any{map[string]any{"b": "x"}}}, "a.0.b"); !ok || v != "x" {
		t.Errorf("lookupPath = %v %v", v, ok)
	}
}

func sampleReport() Report {
	return Report{
		Target: "shop", Kind: "v3", OutagePolicy: "fail-closed", Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Duration: 1500 * time.Millisecond, TargetOutput: "listening\x00 on :1\n",
		Results: []Result{
			{ID: "ACCEPT-001", Title: "accepts a valid token", Level: Must, Area: "accept", Status: StatusPassed, Counted: true, Duration: 12 * time.Millisecond},
			{ID: "REJECT-004", Title: "rejects a hostname mismatch", Level: Must, Area: "reject", Status: StatusFailed, Counted: true,
				Requirement: "The backend MUST reject.", Expected: "rejected (status 403)", Actual: "HTTP 200 ok → accepted",
				Steps:   []string{"sent a token → HTTP 200"},
				Journal: []mockserver.Request{{Seq: 7, Method: "POST", Path: mockserver.VerifyPath, SecretIn: "form", Token: "03Aabc", Outcome: "success", Status: 200}}},
			{ID: "WIRE-006", Title: "forwards the client IP as remoteip", Level: Should, Area: "wire", Status: StatusFailed, Counted: false,
				Requirement: "The backend SHOULD pass.", Expected: "remoteip=198.51.100.1", Actual: `remoteip=""`},
			{ID: "REJECT-005", Title: "rejects an Android package name mismatch", Level: Must, Area: "reject", Status: StatusSkipped, Counted: true,
				Reason: "applies to android, not v3"},
		},
		Summary: Summary{Passed: 1, Failed: 1, Skipped: 1, Warnings: 1},
	}
}

func TestConsoleOutput(t *testing.T) {
	rep := sampleReport()
	var b bytes.Buffer
	rep.WriteConsole(&b, false)
	out := b.String()
	for _, want := range []string{
		"PASS  ACCEPT-001  accepts a valid token  (12ms)\n",
		"FAIL  REJECT-004  rejects a hostname mismatch  (0s)\n      requirement: The backend MUST reject.\n      expected:    rejected (status 403)\n      actual:      HTTP 200 ok → accepted\n",
		"      journal:\n        #7 ",
		"WARN  WIRE-006    forwards the client IP as remoteip",
		"SKIP  REJECT-005  rejects an Android package name mismatch  (0s)  applies to android, not v3\n",
		"1 passed, 1 failed, 1 skipped, 1 warning(s)",
		"backend output (shop):\n    listening",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("console output lacks %q:\n%s", want, out)
		}
	}
	if rep.Passed() || strings.Join(rep.Failed(), ",") != "REJECT-004,WIRE-006" {
		t.Errorf("Passed/Failed = %v %v", rep.Passed(), rep.Failed())
	}
}

func TestJSONReport(t *testing.T) {
	var b bytes.Buffer
	if err := sampleReport().WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Passed     bool    `json:"passed"`
		DurationMS float64 `json:"duration_ms"`
		Results    []struct {
			ID          string               `json:"id"`
			Status      string               `json:"status"`
			Requirement string               `json:"requirement"`
			DurationMS  float64              `json:"duration_ms"`
			Journal     []mockserver.Request `json:"journal"`
		} `json:"results"`
		TargetOutput string `json:"target_output"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Passed || doc.DurationMS != 1500 || len(doc.Results) != 4 || doc.Results[0].DurationMS != 12 ||
		doc.Results[1].Requirement == "" || len(doc.Results[1].Journal) != 1 || doc.TargetOutput == "" {
		t.Errorf("JSON report = %s", b.String())
	}
}

func TestJUnitReport(t *testing.T) {
	var b bytes.Buffer
	if err := sampleReport().WriteJUnit(&b); err != nil {
		t.Fatal(err)
	}
	var doc junitSuites
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("not XML: %v\n%s", err, b.String())
	}
	s := doc.Suites[0]
	if doc.Tests != 4 || s.Failures != 1 || s.Skipped != 2 || len(s.Cases) != 4 { // the warning is skipped
		t.Errorf("counts: %+v", doc)
	}
	if f := s.Cases[1].Failure; f == nil || !strings.Contains(f.Text, "actual:      HTTP 200 ok → accepted") || f.Type != "REJECT-004" {
		t.Errorf("failure = %+v", f)
	}
	if s.Cases[2].Failure != nil || s.Cases[2].Skipped == nil || !strings.HasPrefix(s.Cases[2].Skipped.Message, "warning: ") {
		t.Errorf("a warning must be a skipped testcase saying warning: %+v", s.Cases[2])
	}
	if s.SystemOut == nil || !strings.Contains(s.SystemOut.Text, "listening\uFFFD on") {
		t.Errorf("system-out = %+v", s.SystemOut)
	}
}

func TestNextClientIP(t *testing.T) {
	s := &Session{}
	seen := map[string]bool{}
	for i := range 508 {
		ip := s.nextClientIP()
		if seen[ip] || !(strings.HasPrefix(ip, "198.51.100.") || strings.HasPrefix(ip, "203.0.113.")) {
			t.Fatalf("ip %d = %s", i, ip)
		}
		seen[ip] = true
	}
	if s.nextClientIP() != "198.51.100.1" {
		t.Errorf("addresses do not cycle")
	}
}
