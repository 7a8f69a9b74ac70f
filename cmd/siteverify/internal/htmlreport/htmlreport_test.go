package htmlreport_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/siteverify/siteverify/browser"
	"github.com/siteverify/siteverify/cmd/siteverify/internal/htmlreport"
	"github.com/siteverify/siteverify/mockserver"
	"github.com/siteverify/siteverify/suite"
)

// samplePNG is a real 40x30 PNG, so the test can see it decoded by the browser.
func samplePNG(t *testing.T) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for x := range 40 {
		for y := range 30 {
			img.Set(x, y, color.RGBA{200, 30, 40, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func sampleDocument(t *testing.T) htmlreport.Document {
	journal := []mockserver.Request{{Seq: 7, Method: "POST", Path: mockserver.VerifyPath, SecretIn: "form", Token: "03Aabc", Outcome: "success", Status: 200}}
	good := &suite.Report{Kind: "v3", OutagePolicy: "fail-closed", Duration: 2 * time.Second, Results: []suite.Result{
		{ID: "ACCEPT-001", Title: "accepts a valid token", Level: suite.Must, Status: suite.StatusPassed, Counted: true, Requirement: "The backend MUST accept a valid token.", Duration: 12 * time.Millisecond},
		{ID: "HOST-001", Title: "rejects a hostname mismatch", Level: suite.Must, Status: suite.StatusPassed, Counted: true, Requirement: "The backend MUST check the hostname."},
	}, TargetOutput: "refbackend: listening on http://127.0.0.1:1234\nshutting down"}
	bad := &suite.Report{Kind: "v3", OutagePolicy: "fail-closed", Results: []suite.Result{
		{ID: "ACCEPT-001", Title: "accepts a valid token", Level: suite.Must, Status: suite.StatusPassed, Counted: true},
		{ID: "HOST-001", Title: "rejects a hostname mismatch", Level: suite.Must, Status: suite.StatusFailed, Counted: true,
			Requirement: "The backend MUST check the hostname.", Expected: "rejected (HTTP 403)", Actual: "accepted <script>alert(1)</script> (HTTP 200)", Journal: journal,
			Output: "POST /login host=evil.example 200"},
		{ID: "WIRE-006", Title: "forwards the client IP as remoteip", Level: suite.Should, Status: suite.StatusFailed, Counted: false,
			Requirement: "The backend SHOULD pass the client IP.", Expected: "remoteip=198.51.100.1", Actual: `remoteip=""`},
		{ID: "OUTAGE-006", Title: "survives a connection reset", Level: suite.Must, Status: suite.StatusFailed, Counted: true,
			Requirement: "The backend MUST survive a reset.", Actual: "the backend crashed", Crash: &suite.Crash{Status: "exit status 2", Restarted: true},
			Output: "panic: boom\ngoroutine 1 [running]"},
	}, TargetOutput: "flawed: listening\nPOST /login host=evil.example 200\npanic: boom\ngoroutine 1 [running]\nflawed: listening again",
		Notes: []string{"the backend crashed during OUTAGE-006 (exit status 2); restarted, ready in 120ms"}}
	flows := &browser.Report{Browser: "Chrome/156", Results: []browser.Result{
		{ID: "FLOW-001", Title: "happy path", Page: "login-v3", Status: browser.Failed, Expected: "the page shows success", Actual: "the page showed nothing", Screenshot: samplePNG(t), Console: []string{"log: hello"}},
	}}
	return htmlreport.Document{
		Title: "siteverify demo", Generated: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC), Version: "test",
		Runs: []htmlreport.Run{
			{Name: "reference backend", Description: "the correct integration", Conform: good},
			{Name: "flawed backend", Description: "no hostname check", Conform: bad, Browse: flows, Expectation: "HOST-001 should fail"},
		},
	}
}

func TestWrite(t *testing.T) {
	var b bytes.Buffer
	if err := htmlreport.Write(&b, sampleDocument(t)); err != nil {
		t.Fatal(err)
	}
	html := b.String()
	for _, want := range []string{
		`id="totals">3 passed, 3 failed, 1 warnings, 0 skipped`,
		`<details class="result failed" id="r1-HOST-001" open>`,
		`accepted &lt;script&gt;alert(1)&lt;/script&gt; (HTTP 200)`,
		`src="data:image/png;base64,iVBOR`,
		`refbackend: listening on http://127.0.0.1:1234`,
		`href="#r1-FLOW-001-login-v3"`,
		`#7 `,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(html, "<script") || strings.Contains(html, "<link") {
		t.Error("report must be self-contained and script-free")
	}
}

// TestRendersInChromium opens the report in the real browser and checks what
// a reader sees: the counts, a failing case's explanation, the screenshot.
func TestRendersInChromium(t *testing.T) {
	var b bytes.Buffer
	if err := htmlreport.Write(&b, sampleDocument(t)); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(b.Bytes())
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	br, err := browser.Launch(ctx, browser.Options{})
	if err != nil {
		t.Fatal(err) // never a skip: make test installs Chromium
	}
	defer br.Close()
	tab, closeTab, err := br.NewTab(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer closeTab()

	if err := chromedp.Do(tab, chromedp.Navigate(srv.URL)); err != nil {
		t.Fatalf("open the report: %v", err)
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return s
	}
	totals, actual, verdict := text("#totals"), text("#r1-HOST-001 .actual"), text("#summary-1 .verdict")
	actualVisible, err := chromedp.Run(tab, chromedp.Evaluate[bool](`document.querySelector("#r1-HOST-001 .actual").getBoundingClientRect().height > 0`))
	if err != nil {
		t.Fatal(err)
	}
	// Failures and warnings start unfolded; passing cases and the whole
	// backend output start folded.
	for sel, want := range map[string]bool{"#r1-WIRE-006 .actual": true, "#r1-OUTAGE-006 .case-output": true,
		"#r1-ACCEPT-001 summary": false, "#output-1 pre": false, "#summary-1 a[href='#r1-WIRE-006']": true} {
		visible, err := chromedp.Run(tab, chromedp.Evaluate[bool](`document.querySelector("`+sel+`").checkVisibility()`))
		if err != nil {
			t.Fatalf("%s: %v", sel, err)
		}
		if visible != want {
			t.Errorf("%s visible = %v, want %v", sel, visible, want)
		}
	}
	shotWidth, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelector("img.shot").naturalWidth`))
	if err != nil {
		t.Fatal(err)
	}
	if totals != "3 passed, 3 failed, 1 warnings, 0 skipped" {
		t.Errorf("totals %q", totals)
	}
	if actual != "accepted <script>alert(1)</script> (HTTP 200)" || !actualVisible {
		t.Errorf("failing case explanation %q visible=%v", actual, actualVisible)
	}
	if verdict != "Failed" {
		t.Errorf("flawed run verdict %q", verdict)
	}
	if shotWidth != 40 {
		t.Errorf("embedded screenshot decoded to width %d, want 40", shotWidth)
	}
}

// TestWriteNamesWhatMatters checks the report's structure for a run with a
// pass, a failure, a warning and a crash: the summary names each failed and
// warned result and links to it; warnings start open like failures; each
// case is one line of one list (no matrix repeating the details); a case's
// own backend output is in its details and the whole output is folded.
func TestWriteNamesWhatMatters(t *testing.T) {
	var b bytes.Buffer
	if err := htmlreport.Write(&b, sampleDocument(t)); err != nil {
		t.Fatal(err)
	}
	html := b.String()
	i := strings.Index(html, `id="summary-1"`)
	if i < 0 {
		t.Fatalf("no summary card for the flawed run:\n%s", html)
	}
	summary, _, _ := strings.Cut(html[i:], `<h2`)
	for _, want := range []string{
		`<a href="#r1-HOST-001"><code>HOST-001</code> rejects a hostname mismatch</a>`,
		`<a href="#r1-OUTAGE-006"><code>OUTAGE-006</code> survives a connection reset</a> <span class="note">backend crashed</span>`,
		`<span class="badge warning">warning</span> <a href="#r1-WIRE-006"><code>WIRE-006</code> forwards the client IP as remoteip</a>`,
		`<a href="#r1-FLOW-001-login-v3"><code>FLOW-001</code> happy path (page login-v3)</a>`,
		`the backend crashed during OUTAGE-006`,
	} {
		if !strings.Contains(summary, want) {
			t.Errorf("the flawed run's summary lacks %q:\n%s", want, summary)
		}
	}
	if strings.Contains(summary, "ACCEPT-001") {
		t.Errorf("the summary names a passing case:\n%s", summary)
	}
	for _, want := range []string{
		`<details class="row warning" id="case-WIRE-006" open>`,
		`<details class="result warning" id="r1-WIRE-006" open>`,
		`<details class="row failed" id="case-OUTAGE-006" open>`,
		`<details class="row " id="case-ACCEPT-001">`,
		`<dd class="crash">exit status 2; the harness restarted the backend`,
		`<pre class="case-output">panic: boom`,
		`<pre class="case-output">POST /login host=evil.example 200</pre>`,
		`<details class="output" id="output-1">`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(html, "<table") {
		t.Error("report still has a matrix table besides the list")
	}
	for _, id := range []string{"ACCEPT-001", "HOST-001", "WIRE-006", "OUTAGE-006"} {
		if n := strings.Count(html, "<code>"+id+"</code> <span class=\"lvl\">"); n != 1 {
			t.Errorf("%s has %d lines in the list, want 1", id, n)
		}
	}
	if n := strings.Count(html, `id="r0-HOST-001"`) + strings.Count(html, `id="r1-HOST-001"`); n != 2 {
		t.Errorf("HOST-001 has %d detail blocks, want one per run", n)
	}
}
