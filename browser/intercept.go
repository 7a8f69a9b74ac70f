package browser

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/siteverify/siteverify/mockserver"
)

// ProviderPatterns are the request URL patterns (Chrome DevTools Fetch
// patterns) answered from the mock instead of the network: every real URL
// the mock stands in for, of every provider (for reCAPTCHA, Google's script,
// its alternate host and the script's static assets), over https and http.
func ProviderPatterns() []string {
	var out []string
	for _, p := range mockserver.Providers() {
		for _, pre := range p.RealPrefixes() {
			out = append(out, "*://"+pre+"*")
		}
	}
	return out
}

// QuietPatterns are request URL patterns of the providers' own telemetry
// that a page's widget code may call (hCaptcha's loader reports a script
// that failed to load to sentry.hcaptcha.com): answered in the browser with
// an empty success, never sent to the network, so an offline page does not
// wait on them or log network errors.
func QuietPatterns() []string {
	return []string{"*://sentry.hcaptcha.com/*"}
}

// isQuietURL reports whether u is one of QuietPatterns.
func isQuietURL(u string) bool {
	p, err := url.Parse(u)
	return err == nil && strings.EqualFold(p.Hostname(), "sentry.hcaptcha.com")
}

// Submission is a request the page sent to its backend, as the browser
// sent it: a form post (Type "Document"), or an XHR or fetch request (Type
// "XHR" or "Fetch", with or without a body). For XHR and fetch requests the
// backend's answer is captured too. The flows find the request that carried
// the page's token among them (in its URL, a header or its body).
type Submission struct {
	Method string
	URL    string
	// Type is the request's resource type as Chromium reports it: "Document"
	// for a form post, "XHR" or "Fetch" for a script's request (Chromium
	// reports some fetch() calls as XHR).
	Type        string
	ContentType string
	// Header holds the request headers as the page set them (the browser
	// adds Cookie later, so it is usually absent; a replay reads the
	// browser's cookies for URL instead).
	Header http.Header
	Body   []byte
	Time   time.Time
	// Status, ResponseHeader and ResponseBody are the backend's answer to an
	// XHR or fetch request (Status 0 when it is unknown), at most
	// maxCapturedBody bytes of body.
	Status         int
	ResponseHeader http.Header
	ResponseBody   []byte

	id fetch.RequestID
}

// carries reports whether the request carries token in its URL, a header or
// its body.
func (s Submission) carries(token string) bool {
	if token == "" {
		return false
	}
	if strings.Contains(s.URL, token) || bytes.Contains(s.Body, []byte(token)) {
		return true
	}
	for _, vs := range s.Header {
		for _, v := range vs {
			if strings.Contains(v, token) {
				return true
			}
		}
	}
	return false
}

// isScripted reports whether the page sent the request from script (XHR or
// fetch) rather than as a form post.
func (s Submission) isScripted() bool { return s.Type != string(network.ResourceTypeDocument) }

// Bounds on what a tab keeps of the page's requests.
const (
	maxSubmissions  = 200
	maxCapturedBody = 1 << 20
)

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
	// Form posts are documents; a page's own XHR and fetch requests are
	// paused twice, before they leave (to record them) and when the answer
	// arrives (to record it), so FLOW-002 can replay them and judge the
	// backend's answer.
	patterns := []*fetch.RequestPattern{
		{URLPattern: "*", ResourceType: network.ResourceTypeDocument, RequestStage: fetch.RequestStageRequest},
		{URLPattern: "*", ResourceType: network.ResourceTypeXHR, RequestStage: fetch.RequestStageRequest},
		{URLPattern: "*", ResourceType: network.ResourceTypeFetch, RequestStage: fetch.RequestStageRequest},
		{URLPattern: "*", ResourceType: network.ResourceTypeXHR, RequestStage: fetch.RequestStageResponse},
		{URLPattern: "*", ResourceType: network.ResourceTypeFetch, RequestStage: fetch.RequestStageResponse},
	}
	if t.mockURL != "" {
		for _, p := range append(ProviderPatterns(), QuietPatterns()...) {
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
	if ev.ResponseStatusCode != 0 || ev.ResponseErrorReason != "" {
		t.recordAnswer(ev)
		if _, err := chromedp.Call(t.ctx, fetch.ContinueResponse, fetch.ContinueResponseParams{RequestID: ev.RequestID}); err != nil && t.ctx.Err() == nil {
			t.note("continue the answer to %s: %v", req.URL, err)
		}
		return
	}
	providerURL := isProviderURL(req.URL)
	if t.mockURL != "" && providerURL {
		t.forward(ev)
		return
	}
	if t.mockURL != "" && isQuietURL(req.URL) {
		t.quiet(ev)
		return
	}
	scripted := ev.ResourceType == network.ResourceTypeXHR || ev.ResourceType == network.ResourceTypeFetch
	if !providerURL && (scripted || req.HasPostData || len(req.PostDataEntries) > 0) {
		hdr := http.Header{}
		for k, v := range req.Headers {
			if s, ok := v.(string); ok {
				hdr.Add(k, s)
			}
		}
		t.mu.Lock()
		if len(t.submissions) >= maxSubmissions {
			t.submissions = t.submissions[1:]
		}
		t.submissions = append(t.submissions, Submission{Method: req.Method, URL: req.URL, Type: string(ev.ResourceType),
			ContentType: header(req.Headers, "Content-Type"), Header: hdr, Body: postBody(req), Time: time.Now(), id: ev.RequestID})
		t.mu.Unlock()
	}
	if _, err := chromedp.Call(t.ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID}); err != nil && t.ctx.Err() == nil {
		t.note("continue %s: %v", req.URL, err)
	}
}

// recordAnswer stores the backend's answer to a recorded XHR or fetch
// request (paused at the response stage).
func (t *tab) recordAnswer(ev fetch.EventRequestPaused) {
	t.mu.Lock()
	i := slices.IndexFunc(t.submissions, func(s Submission) bool { return s.id == ev.RequestID })
	t.mu.Unlock()
	if i < 0 {
		return
	}
	hdr := http.Header{}
	for _, h := range ev.ResponseHeaders {
		if h != nil {
			hdr.Add(h.Name, h.Value)
		}
	}
	var body []byte
	if ev.ResponseStatusCode < 300 || ev.ResponseStatusCode >= 400 { // redirects have no body
		if r, err := chromedp.Call(t.ctx, fetch.GetResponseBody, fetch.GetResponseBodyParams{RequestID: ev.RequestID}); err == nil {
			body = r.Body
			if len(body) > maxCapturedBody {
				body = body[:maxCapturedBody]
			}
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for j := range t.submissions { // the slice may have moved while unlocked
		if t.submissions[j].id == ev.RequestID {
			t.submissions[j].Status, t.submissions[j].ResponseHeader, t.submissions[j].ResponseBody = int(ev.ResponseStatusCode), hdr, body
		}
	}
}

// isProviderURL reports whether u is one of ProviderPatterns.
func isProviderURL(u string) bool {
	p, err := url.Parse(u)
	if err != nil {
		return false
	}
	for _, prov := range mockserver.Providers() {
		if prov.IsRealURL(p) {
			return true
		}
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

// quiet answers a request for a provider's telemetry (QuietPatterns) with
// an empty success, as the telemetry service would, and records it.
func (t *tab) quiet(ev fetch.EventRequestPaused) {
	t.mu.Lock()
	t.forwarded = append(t.forwarded, fmt.Sprintf("%s %s -> 200 (answered in the browser)", ev.Request.Method, ev.Request.URL))
	t.mu.Unlock()
	_, err := chromedp.Call(t.ctx, fetch.FulfillRequest, fetch.FulfillRequestParams{
		RequestID: ev.RequestID, ResponseCode: http.StatusOK,
		ResponseHeaders: []*fetch.HeaderEntry{
			{Name: "Content-Type", Value: "application/json"},
			{Name: "Access-Control-Allow-Origin", Value: "*"},
		},
		Body: []byte("{}"),
	})
	if err != nil && t.ctx.Err() == nil {
		t.note("answer %s: %v", ev.Request.URL, err)
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
