package mockserver_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/siteverify/siteverify/mockserver"
)

// Benchmarks call Server.Handler() with httptest.NewRecorder, so they
// measure the handler (parsing, decoding, HMAC, the spent set, the journal,
// the answer), not the network. `make bench` runs them; the throughput of
// the real binary over TCP is measured by mockserver/internal/benchload.

var benchSpec = mockserver.TokenSpec{Score: 0.9, Action: "login", Hostname: "app.example.com"}

func newBenchServer(b *testing.B, journalSize int) *mockserver.Server {
	b.Helper()
	s, err := mockserver.NewServer(mockserver.Options{JournalSize: journalSize})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Close)
	return s
}

// benchWriter is a reusable ResponseWriter, so that allocations reported
// are the handler's own, not httptest's.
type benchWriter struct {
	header http.Header
	code   int
	body   []byte
}

func newBenchWriter() *benchWriter { return &benchWriter{header: http.Header{}} }

func (w *benchWriter) Header() http.Header { return w.header }

func (w *benchWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *benchWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.body = append(w.body, p...)
	return len(p), nil
}

func (w *benchWriter) reset() {
	clear(w.header)
	w.code, w.body = 0, w.body[:0]
}

// verifyTarget is the parsed siteverify URL and a backend's headers, shared
// read-only by every benchmark request.
var (
	verifyTarget = &url.URL{Path: mockserver.VerifyPath}
	formHeader   = http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
)

// verifyRequest is what a backend sends: a urlencoded POST, built directly
// (httptest.NewRequest parses a request text and allocates a 4 KiB reader).
func verifyRequest(secret, token string) *http.Request {
	body := "secret=" + secret + "&response=" + token
	return &http.Request{
		Method: http.MethodPost, URL: verifyTarget, RequestURI: mockserver.VerifyPath,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Host: "www.google.com",
		Header: formHeader, Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)),
		RemoteAddr: "192.0.2.1:1234",
	}
}

func serveVerify(b *testing.B, h http.Handler, w *benchWriter, secret, token string) {
	w.reset()
	h.ServeHTTP(w, verifyRequest(secret, token))
	if w.code != http.StatusOK || !bytes.HasPrefix(w.body, []byte("{\n  \"success\": true,")) {
		b.Fatalf("verify: %d %s", w.code, w.body)
	}
}

func BenchmarkIssue(b *testing.B) {
	s := newBenchServer(b, 0)
	b.ReportAllocs()
	ctx := b.Context()
	for b.Loop() {
		if _, err := s.Issue(ctx, benchSpec); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIssueVerify(b *testing.B) {
	s := newBenchServer(b, 0)
	h, secret, w := s.Handler(), s.Site().Secret, newBenchWriter()
	b.ReportAllocs()
	for b.Loop() {
		serveVerify(b, h, w, secret, issue(b, s, benchSpec))
	}
}

// BenchmarkVerify verifies tokens minted beforehand: the handler alone.
func BenchmarkVerify(b *testing.B) {
	s := newBenchServer(b, 0)
	h, secret, w := s.Handler(), s.Site().Secret, newBenchWriter()
	toks := mint(b, s, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		serveVerify(b, h, w, secret, toks[i])
	}
}

// BenchmarkVerifyParallel verifies tokens minted beforehand from
// GOMAXPROCS goroutines, as concurrent backends do.
func BenchmarkVerifyParallel(b *testing.B) {
	s := newBenchServer(b, 0)
	h, secret := s.Handler(), s.Site().Secret
	toks := mint(b, s, b.N)
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := newBenchWriter()
		for pb.Next() {
			serveVerify(b, h, w, secret, toks[next.Add(1)-1])
		}
	})
}

func mint(b testing.TB, s *mockserver.Server, n int) []string {
	toks := make([]string, n)
	for i := range toks {
		toks[i] = issue(b, s, benchSpec)
	}
	return toks
}

// BenchmarkSpentMemory reports the heap a server holds for one million
// tokens verified and not yet expired (the single-use rule has to remember
// them), as MB (10^6 bytes) after GC. With journal=1 the figure is the spent
// set alone; with journal=default it includes the 10 000-entry journal,
// which is full after the first 10 000 requests and then stays the same size.
// Run it with -benchtime=1x: one iteration is a million requests.
func BenchmarkSpentMemory(b *testing.B) {
	for _, c := range []struct {
		name    string
		journal int
	}{{"journal=1", 1}, {"journal=default", 0}} {
		b.Run(c.name, func(b *testing.B) {
			const n = 1_000_000
			for b.Loop() {
				s := newBenchServer(b, c.journal)
				h, secret, w := s.Handler(), s.Site().Secret, newBenchWriter()
				before := heapAfterGC()
				for range n {
					serveVerify(b, h, w, secret, issue(b, s, benchSpec))
				}
				after := heapAfterGC()
				if got := spentTokens(b, h); got != n {
					b.Fatalf("server remembers %d spent tokens, want %d", got, n)
				}
				delta := float64(after) - float64(before)
				b.ReportMetric(delta/1e6, "MB/1M-tokens")
				b.ReportMetric(delta/n, "B/token")
				runtime.KeepAlive(s)
				s.Close()
			}
		})
	}
}

func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// spentTokens reads the spent-token count from the admin health endpoint.
func spentTokens(b *testing.B, h http.Handler) int {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/__admin/health", nil))
	var health struct {
		Spent int `json:"spent_tokens"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &health); err != nil {
		b.Fatalf("health: %v %s", err, rec.Body)
	}
	return health.Spent
}
