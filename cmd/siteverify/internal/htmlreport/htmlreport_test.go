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
	}, TargetOutput: "refbackend: listening on http://127.0.0.1:1234"}
	bad := &suite.Report{Kind: "v3", OutagePolicy: "fail-closed", Results: []suite.Result{
		{ID: "ACCEPT-001", Title: "accepts a valid token", Level: suite.Must, Status: suite.StatusPassed, Counted: true},
		{ID: "HOST-001", Title: "rejects a hostname mismatch", Level: suite.Must, Status: suite.StatusFailed, Counted: true,
			Requirement: "The backend MUST check the hostname.", Expected: "rejected (HTTP 403)", Actual: "accepted <script>alert(1)</script> (HTTP 200)", Journal: journal},
	}}
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
		`id="totals">3 passed, 2 failed, 0 warnings, 0 skipped`,
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
	shotWidth, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelector("img.shot").naturalWidth`))
	if err != nil {
		t.Fatal(err)
	}
	if totals != "3 passed, 2 failed, 0 warnings, 0 skipped" {
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
