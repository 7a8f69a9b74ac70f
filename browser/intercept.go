package browser

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// GooglePatterns are the request URL patterns (Chrome DevTools Fetch
// patterns) answered from the mock instead of the network: Google's script,
// its alternate host and the script's static assets, over https and http.
var GooglePatterns = []string{
	"*://www.google.com/recaptcha/*",
	"*://www.recaptcha.net/recaptcha/*",
	"*://recaptcha.net/recaptcha/*",
	"*://www.gstatic.com/recaptcha/*",
}

// Submission is a document request with a body the page sent (a form post),
// as the browser sent it.
type Submission struct {
	Method      string
	URL         string
	ContentType string
	Body        []byte
	Time        time.Time
}

// tab is one flow's tab: a fresh browser context with its interception,
// console log and captured form posts.
type tab struct {
	ctx     context.Context
	mockURL string // "" in staging mode: no interception
	client  *http.Client

	mu          sync.Mutex
	console     []string
	submissions []Submission
	forwarded   []string
	problems    []string
}

// maxConsoleLines bounds what a flow keeps of the page's console.
const maxConsoleLines = 500

// openTab opens a tab in a fresh browser context, starts the console
// capture and enables interception: Google's script URLs are answered from
// mockURL (unless it is empty, in staging mode) and document requests with a
// body are recorded.
func (b *Browser) openTab(parent context.Context, mockURL string) (*tab, context.CancelFunc, error) {
	tctx, cancel, err := b.NewTab(parent)
	if err != nil {
		return nil, nil, err
	}
	t := &tab{ctx: tctx, mockURL: strings.TrimRight(mockURL, "/"),
		client: &http.Client{Timeout: 15 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	// Subscribe before enabling Fetch and before any navigation, so no
	// event is lost.
	paused := chromedp.Events(tctx, fetch.RequestPaused)
	console := chromedp.Console(tctx)
	patterns := []*fetch.RequestPattern{{URLPattern: "*", ResourceType: network.ResourceTypeDocument, RequestStage: fetch.RequestStageRequest}}
	if t.mockURL != "" {
		for _, p := range GooglePatterns {
			patterns = append(patterns, &fetch.RequestPattern{URLPattern: p, RequestStage: fetch.RequestStageRequest})
		}
	}
	if _, err := chromedp.Call(tctx, fetch.Enable, fetch.EnableParams{Patterns: patterns}); err != nil {
		cancel()
		return nil, nil, fmt.Errorf("enable request interception: %w", err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			// Answer from goroutines: a slow mock must not hold up the
			// page's other requests.
			wg.Go(func() { t.handle(ev) })
		}
	})
	wg.Go(func() {
		for m, err := range console {
			if err != nil {
				return
			}
			t.addConsole(m)
		}
	})
	return t, func() { cancel(); wg.Wait() }, nil
}

func (t *tab) addConsole(m chromedp.ConsoleMessage) {
	line := m.String()
	if m.URL != "" {
		line += fmt.Sprintf(" (%s:%d)", m.URL, m.Line+1)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.console) < maxConsoleLines {
		t.console = append(t.console, line)
	}
}

func (t *tab) note(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.problems = append(t.problems, fmt.Sprintf(format, args...))
}

// consoleLines returns the console so far, with interception problems
// appended.
func (t *tab) consoleLines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := append([]string(nil), t.console...)
	for _, p := range t.problems {
		out = append(out, "siteverify: "+p)
	}
	return out
}

// forwardedRequests lists the requests answered from the mock.
func (t *tab) forwardedRequests() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.forwarded...)
}

func (t *tab) posts() []Submission {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Submission(nil), t.submissions...)
}

func (t *tab) handle(ev fetch.EventRequestPaused) {
	req := ev.Request
	if req == nil {
		return
	}
	if t.mockURL != "" && isGoogleURL(req.URL) {
		t.forward(ev)
		return
	}
	if req.HasPostData || len(req.PostDataEntries) > 0 {
		body := postBody(req)
		t.mu.Lock()
		t.submissions = append(t.submissions, Submission{Method: req.Method, URL: req.URL,
			ContentType: header(req.Headers, "Content-Type"), Body: body, Time: time.Now()})
		t.mu.Unlock()
	}
	if _, err := chromedp.Call(t.ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID}); err != nil && t.ctx.Err() == nil {
		t.note("continue %s: %v", req.URL, err)
	}
}

// isGoogleURL reports whether u is one of GooglePatterns.
func isGoogleURL(u string) bool {
	p, err := url.Parse(u)
	if err != nil {
		return false
	}
	switch strings.ToLower(p.Hostname()) {
	case "www.google.com", "www.recaptcha.net", "recaptcha.net", "www.gstatic.com":
		return strings.HasPrefix(p.Path, "/recaptcha/")
	}
	return false
}

// forward answers a paused request for Google's URL with the mock's answer
// to the same method, path, query and body. X-Forwarded-Host and
// X-Forwarded-Proto tell the mock which origin the page used, so the script
// it serves mints from that origin, which is intercepted too.
func (t *tab) forward(ev fetch.EventRequestPaused) {
	req := ev.Request
	src, err := url.Parse(req.URL)
	if err != nil {
		t.fail(ev, "parse %s: %v", req.URL, err)
		return
	}
	target := t.mockURL + src.EscapedPath()
	if src.RawQuery != "" {
		target += "?" + src.RawQuery
	}
	var body io.Reader
	if b := postBody(req); len(b) > 0 {
		body = bytes.NewReader(b)
	}
	hreq, err := http.NewRequestWithContext(t.ctx, req.Method, target, body)
	if err != nil {
		t.fail(ev, "forward %s: %v", req.URL, err)
		return
	}
	for _, h := range []string{"Content-Type", "Origin", "Referer", "Accept", "User-Agent"} {
		if v := header(req.Headers, h); v != "" {
			hreq.Header.Set(h, v)
		}
	}
	hreq.Header.Set("X-Forwarded-Host", src.Host)
	hreq.Header.Set("X-Forwarded-Proto", src.Scheme)
	resp, err := t.client.Do(hreq)
	if err != nil {
		t.fail(ev, "the mock did not answer %s %s (forwarded to %s): %v", req.Method, req.URL, target, err)
		return
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		t.fail(ev, "read the mock's answer to %s: %v", req.URL, err)
		return
	}
	var headers []*fetch.HeaderEntry
	names := make([]string, 0, len(resp.Header))
	for k := range resp.Header {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		for _, v := range resp.Header[k] {
			headers = append(headers, &fetch.HeaderEntry{Name: k, Value: v})
		}
	}
	t.mu.Lock()
	t.forwarded = append(t.forwarded, fmt.Sprintf("%s %s -> %d", req.Method, req.URL, resp.StatusCode))
	t.mu.Unlock()
	_, err = chromedp.Call(t.ctx, fetch.FulfillRequest, fetch.FulfillRequestParams{
		RequestID: ev.RequestID, ResponseCode: int64(resp.StatusCode), ResponseHeaders: headers, Body: data,
	})
	if err != nil && t.ctx.Err() == nil {
		t.note("answer %s: %v", req.URL, err)
	}
}

// fail makes a paused request fail as a refused connection, and records why.
func (t *tab) fail(ev fetch.EventRequestPaused, format string, args ...any) {
	t.note(format, args...)
	_, _ = chromedp.Call(t.ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: ev.RequestID, ErrorReason: network.ErrorReasonConnectionRefused})
}

func postBody(req *network.Request) []byte {
	var b []byte
	for _, e := range req.PostDataEntries {
		if e != nil {
			b = append(b, e.Bytes...)
		}
	}
	return b
}

// header reads a request header case-insensitively.
func header(h network.Headers, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			if s, ok := v.(string); ok {
				return s
			}
		}
	}
	return ""
}
