package mockserver_test

import (
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/siteverify/siteverify/mockserver"
)

// Memory of the journal under hostile input (issue 8, defect 3). The
// journal must keep copies, cut before copying, so a full journal costs
// what its limits say whatever the requests were. These tests measure the
// heap after GC, so they do not run in parallel with others.

// journalWorstCaseBytes is the README's figure for a full journal of the
// default size (10 000 entries) of maximal hostile entries: 200 MB, that
// is 20 KB per entry. TestJournalWorstCaseMemory keeps it true.
const journalWorstCaseBytes = 200e6

// rawRequest is a request as the handler sees it, built directly.
func rawRequest(method, rawQuery, contentType, body string) *http.Request {
	r := &http.Request{
		Method: method, URL: &url.URL{Path: mockserver.VerifyPath, RawQuery: rawQuery},
		RequestURI: mockserver.VerifyPath, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Host: "www.google.com",
		Header: http.Header{}, Body: http.NoBody, RemoteAddr: "192.0.2.1:1234",
	}
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	if body != "" {
		r.Body, r.ContentLength = io.NopCloser(strings.NewReader(body)), int64(len(body))
	}
	return r
}

// discard is a ResponseWriter that keeps nothing.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header {
	if d.h == nil {
		d.h = http.Header{}
	}
	return d.h
}
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

// maximalEntry is a request that makes the largest journal entry the limits
// allow: every parameter value, key and field over its limit, the token at
// MaxTokenLength, and more parameters than an entry keeps; unique per i, so
// that entries share nothing.
func maximalEntry(i int) *http.Request {
	u := strconv.Itoa(i) + "-"
	var form, query strings.Builder
	long := func(b *strings.Builder, c string, n int) {
		b.WriteString(u)
		b.WriteString(strings.Repeat(c, n))
	}
	form.WriteString("response=")
	long(&form, "T", mockserver.MaxTokenLength-len(u))
	form.WriteString("&remoteip=")
	long(&form, "9", 700)
	for k := range 20 {
		form.WriteString("&")
		long(&form, "k", 70)
		form.WriteString(strconv.Itoa(k) + "=")
		long(&form, "v", 700)
	}
	for k := range 10 {
		if k > 0 {
			query.WriteString("&")
		}
		long(&query, "q", 70)
		query.WriteString(strconv.Itoa(k) + "=")
		long(&query, "w", 700)
	}
	var ct strings.Builder
	ct.WriteString("application/x-www-form-urlencoded; charset=")
	long(&ct, "c", 400)
	return rawRequest(http.MethodPost, query.String(), ct.String(), form.String())
}

func fillJournal(tb testing.TB, s *mockserver.Server, n int, req func(int) *http.Request) {
	h, w := s.Handler(), &discard{}
	for i := range n {
		h.ServeHTTP(w, req(i))
		clear(w.h)
	}
	if j := journal(tb, s); len(j.Entries) != min(n, j.Capacity) {
		got := len(j.Entries)
		tb.Fatalf("journal holds %d entries after %d requests", got, n)
	}
}

// maximalRule answers every request with the longest response and outcome
// an entry keeps: 16 long error codes (a body over 4 KiB, an outcome over
// 512 bytes) under a long id.
func maximalRule() mockserver.Rule {
	codes := make([]string, 16)
	for i := range codes {
		codes[i] = strconv.Itoa(i) + strings.Repeat("e", 1000)
	}
	return mockserver.Rule{ID: strings.Repeat("r", 1000), ErrorCodes: codes, Times: mockserver.Forever}
}

// newWorstCaseServer is a server whose journal entries are as large as the
// limits allow once filled with maximalEntry requests.
func newWorstCaseServer(tb testing.TB, journalSize int) *mockserver.Server {
	s, err := mockserver.NewServer(mockserver.Options{JournalSize: journalSize, Rules: []mockserver.Rule{maximalRule()}})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// TestJournalWorstCaseMemory fills a journal with maximal hostile entries
// and checks the heap per entry against the README's figure (a fifth of the
// default size, to stay quick under -race; BenchmarkJournalMemory fills the
// default size); it also checks that each entry honours its limits exactly.
func TestJournalWorstCaseMemory(t *testing.T) {
	const n = mockserver.DefaultJournalSize / 5
	before := heapAfterGC()
	s := newWorstCaseServer(t, n)
	defer s.Close()
	fillJournal(t, s, n, maximalEntry)
	after := heapAfterGC()
	perEntry := (float64(after) - float64(before)) / n
	t.Logf("a full journal of %d maximal entries holds %.0f B/entry: %.1f MB for %d entries", n, perEntry, perEntry*mockserver.DefaultJournalSize/1e6, mockserver.DefaultJournalSize)
	if limit := journalWorstCaseBytes / mockserver.DefaultJournalSize; perEntry > limit {
		t.Errorf("a maximal journal entry holds %.0f B, more than the README's %.0f B", perEntry, limit)
	}
	e := journal(t, s).Entries[0]
	checkEntryLimits(t, e)
	if len(e.Response) > 4096 || len(e.Outcome) > 512 || len(e.Rule) > 64 || len(e.Response) < 4000 || len(e.Outcome) < 500 {
		t.Errorf("response %d bytes (want at most 4096), outcome %d (512), rule id %d (64): the worst case is not reached or not bounded",
			len(e.Response), len(e.Outcome), len(e.Rule))
	}
	runtime.KeepAlive(s)
}

// checkEntryLimits checks an entry against the documented limits: at most
// 16 parameter values in all, each at most 512 bytes (the token excepted,
// which is at most MaxTokenLength), keys at most 64 bytes, fields at most
// 256 bytes.
func checkEntryLimits(t *testing.T, e mockserver.Request) {
	t.Helper()
	values := 0
	for _, vals := range []url.Values{e.Query, e.Form} {
		for k, vs := range vals {
			if len(k) > 64 {
				t.Errorf("key of %d bytes kept", len(k))
			}
			for _, v := range vs {
				values++
				if len(v) > 512 && v != e.Token {
					t.Errorf("value of %d bytes kept under %.20q", len(v), k)
				}
			}
		}
	}
	if values > 16 {
		t.Errorf("entry keeps %d parameter values, more than 16", values)
	}
	if len(e.Token) > mockserver.MaxTokenLength || len(e.ContentType) > 256 || len(e.RemoteIP) > 256 {
		t.Errorf("fields over their limits: token %d, content type %d, remoteip %d bytes", len(e.Token), len(e.ContentType), len(e.RemoteIP))
	}
}

// TestJournalEntryLimitsAreExact sends many repeated parameters in both the
// query and the form: an entry keeps 16 values in all, the well-known ones
// first even when other keys sort before them.
func TestJournalEntryLimitsAreExact(t *testing.T) {
	s := mockserver.New(t)
	q, f := url.Values{}, url.Values{}
	for i := range 20 { // 96 KB of form in all: under the 64 KiB body limit
		k := "a" + strconv.Itoa(i) + strings.Repeat("k", 80)
		for range 4 {
			q.Add(k, strings.Repeat("q", 600))
			f.Add(k, strings.Repeat("f", 600))
		}
	}
	f.Set("response", "tok-"+strings.Repeat("t", 1000))
	f.Set("remoteip", "192.0.2.9")
	q.Set("secret", s.Site().Secret)
	call(t, s, http.MethodPost, mockserver.VerifyPath+"?"+q.Encode(), formCT, f.Encode())
	e := journal(t, s).Entries[0]
	checkEntryLimits(t, e)
	values := 0
	for _, vals := range []url.Values{e.Query, e.Form} {
		for _, vs := range vals {
			values += len(vs)
		}
	}
	if values != 16 {
		t.Errorf("entry keeps %d values; want exactly 16 of the %d sent", values, 2*20*4+3)
	}
	if e.Form.Get("response") != e.Token || len(e.Token) != 1004 || e.Form.Get("remoteip") != "192.0.2.9" ||
		e.Query.Get("secret") != mockserver.Fingerprint(s.Site().Secret) {
		t.Errorf("the well-known parameters must be kept first, whole: form %v, query secret %q", e.Form["remoteip"], e.Query.Get("secret"))
	}
}

// TestJournalHeapBoundedWithLargeBodies sends 10 000 requests with 64 KiB
// bodies (and a set with 60 KB queries), each with a short token and
// remote IP: entries that kept substrings would pin every body (650 MB).
func TestJournalHeapBoundedWithLargeBodies(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 650 MB through the handler")
	}
	before := heapAfterGC()
	s, err := mockserver.NewServer(mockserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	secret := s.Site().Secret
	const n, bodySize = 10000, 64 << 10
	pad := strings.Repeat("p", bodySize)
	fillJournal(t, s, n, func(i int) *http.Request {
		head := "secret=" + secret + "&response=tok-" + strconv.Itoa(i) + "&remoteip=192.0.2.1&pad="
		r := rawRequest(http.MethodPost, "", formCT, head)
		// The handler copies the body into a string of its own per request.
		r.Body, r.ContentLength = io.NopCloser(io.MultiReader(strings.NewReader(head), strings.NewReader(pad[len(head):]))), bodySize
		return r
	})
	held := float64(heapAfterGC()) - float64(before)
	t.Logf("10 000 requests of 64 KiB bodies: journal and server hold %.1f MB", held/1e6)
	if held > 100e6 {
		t.Errorf("10 000 requests of 64 KiB bodies: the server holds %.0f MB; entries pin their bodies", held/1e6)
	}

	s.ClearJournal(t.Context())
	before = heapAfterGC()
	const m = 2000
	fillJournal(t, s, m, func(i int) *http.Request {
		head := "secret=" + secret + "&response=tok-" + strconv.Itoa(i) + "&pad="
		return rawRequest(http.MethodGet, head+pad[:60000-len(head)], "", "")
	})
	held = float64(heapAfterGC()) - float64(before)
	t.Logf("%d requests of 60 KB queries: the journal holds %.1f MB", m, held/1e6)
	if held > 40e6 {
		t.Errorf("%d requests of 60 KB queries: the journal holds %.0f MB; entries pin their queries", m, held/1e6)
	}
	runtime.KeepAlive(s)
}

// BenchmarkJournalMemory reports the heap a full default-size journal of
// maximal hostile entries holds (the README's worst case). Run it with
// -benchtime 1x.
func BenchmarkJournalMemory(b *testing.B) {
	for b.Loop() {
		before := heapAfterGC()
		s := newWorstCaseServer(b, mockserver.DefaultJournalSize)
		fillJournal(b, s, mockserver.DefaultJournalSize, maximalEntry)
		held := float64(heapAfterGC()) - float64(before)
		b.ReportMetric(held/1e6, "MB/full-journal")
		b.ReportMetric(held/mockserver.DefaultJournalSize, "B/entry")
		runtime.KeepAlive(s)
		s.Close()
	}
}
