package suite_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/siteverify/siteverify/fixtures/refbackend"
	"github.com/siteverify/siteverify/mockserver"
	"github.com/siteverify/siteverify/suite"
	"github.com/siteverify/siteverify/suite/target"
)

const (
	wrappedSiteKey = "6LcWrappedBackendSiteKey0000000000000001"
	wrappedSecret  = "6LcWrappedBackendSecret00000000000000002"
)

// wrappedBackend serves the correct reference backend (v2-checkbox,
// hostname localhost) behind wrap, in process, and returns a target for it
// with extra YAML appended to its endpoint, and the mock it verifies with.
func wrappedBackend(t *testing.T, wrap func(verifyURL string, next http.Handler) http.Handler, endpointExtra, outage string) (*target.Target, *mockserver.Server) {
	tg, m, _ := wrappedBackendServer(t, wrap, endpointExtra, outage)
	return tg, m
}

// wrappedBackendServer is wrappedBackend that also returns the backend's
// server.
func wrappedBackendServer(t *testing.T, wrap func(verifyURL string, next http.Handler) http.Handler, endpointExtra, outage string) (*target.Target, *mockserver.Server, *httptest.Server) {
	t.Helper()
	m, err := mockserver.NewServer(mockserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	h, err := refbackend.New(refbackend.Config{VerifyURL: m.VerifyURL(), Secret: wrappedSecret, SiteKey: wrappedSiteKey,
		Kind: refbackend.KindV2Checkbox, Hostnames: []string{"localhost"}, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(wrap(m.VerifyURL(), h))
	t.Cleanup(srv.Close)

	y := fmt.Sprintf(`kind: v2-checkbox
sitekey: %s
secret: %s
endpoints:
  - url: %q
    hostnames: [localhost]
%s
classify: {accepted: {status: [200]}, rejected: {status: [403, 503]}}
outage: {%s}
`, wrappedSiteKey, wrappedSecret, srv.URL+"/api/login", endpointExtra, outage)
	p := filepath.Join(t.TempDir(), "wrapped.yaml")
	if err := os.WriteFile(p, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	tg, err := target.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return tg, m, srv
}

// slow delays every answer by d.
func slow(d time.Duration) func(string, http.Handler) http.Handler {
	return func(_ string, next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// TestRequestTimeoutFromTarget: a request waits outage.answer_within plus
// a second (not a fixed 10s), or the endpoint's request_timeout.
func TestRequestTimeoutFromTarget(t *testing.T) {
	t.Parallel()
	t.Run("answer_within", func(t *testing.T) {
		t.Parallel()
		tg, m := wrappedBackend(t, slow(4*time.Second), "", "answer_within: 1s")
		start := time.Now()
		rep, err := suite.Run(context.Background(), suite.Config{Target: tg, Mock: m, Focus: []string{"ACCEPT-001"}})
		if err != nil {
			t.Fatal(err)
		}
		r := rep.Results[0]
		if r.Status != suite.StatusFailed || !strings.Contains(r.Actual, "no answer within 2s") {
			t.Errorf("ACCEPT-001 against a backend answering after 4s, answer_within 1s: %s %q; want no answer within 2s", r.Status, r.Actual)
		}
		// The request is cut before the backend answers (at 4s).
		if d := time.Since(start); d >= 4*time.Second {
			t.Errorf("the run took %v: the request was not cut at answer_within + 1s", d)
		}
	})
	t.Run("request_timeout", func(t *testing.T) {
		t.Parallel()
		tg, m := wrappedBackend(t, slow(2500*time.Millisecond), "    request_timeout: 20s", "answer_within: 1s")
		rep, err := suite.Run(context.Background(), suite.Config{Target: tg, Mock: m, Focus: []string{"ACCEPT-001"}})
		if err != nil {
			t.Fatal(err)
		}
		if r := rep.Results[0]; r.Status != suite.StatusPassed {
			t.Errorf("ACCEPT-001 with request_timeout 20s against a backend answering after 2.5s: %s %q", r.Status, r.Actual)
		}
	})
}

func TestRequestTimeoutValidation(t *testing.T) {
	y := "kind: v2-checkbox\nsitekey: a\nsecret: b\nendpoints: [{url: 'http://127.0.0.1:1/', hostnames: [h], request_timeout: 6m}]\nclassify: {accepted: {status: [200]}, rejected: {status: [403]}}\n"
	_, err := target.Parse([]byte(y), "")
	if err == nil || !strings.Contains(err.Error(), "endpoints[0].request_timeout: 6m0s is out of range") {
		t.Errorf("request_timeout 6m: %v", err)
	}
}

// tokenlessAs makes the backend call siteverify with response=value, as
// libraries that turn a missing token into text do, when the request has
// no token; the backend still rejects such requests.
func tokenlessAs(value string) func(string, http.Handler) http.Handler {
	return func(verifyURL string, next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := r.ParseForm(); err == nil && r.PostForm.Get("g-recaptcha-response") == "" {
				resp, err := http.PostForm(verifyURL, url.Values{"secret": {wrappedSecret}, "response": {value}})
				if err == nil {
					resp.Body.Close()
				}
				http.Error(w, "captcha required", http.StatusForbidden)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// TestWireNoCallWithoutTokenCountsUndefined: WIRE-007 counts a siteverify
// call whose response is "undefined", "null" or blank as a call without a
// token.
func TestWireNoCallWithoutTokenCountsUndefined(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"undefined", "null", "  "} {
		t.Run(fmt.Sprintf("%q", v), func(t *testing.T) {
			t.Parallel()
			tg, m := wrappedBackend(t, tokenlessAs(v), "", "")
			rep, err := suite.Run(context.Background(), suite.Config{Target: tg, Mock: m, Focus: []string{"WIRE-007", "ACCEPT-001"}, Strict: true})
			if err != nil {
				t.Fatal(err)
			}
			if got := rep.Failed(); len(got) != 1 || got[0] != "WIRE-007" {
				t.Fatalf("failed = %v, want [WIRE-007]", got)
			}
			want := fmt.Sprintf("2 siteverify call(s) without a token (response %q)", v)
			if r := rep.Results[1]; r.Actual != want {
				t.Errorf("WIRE-007 actual = %q, want %q", r.Actual, want)
			}
		})
	}
}

func TestTokenless(t *testing.T) {
	for in, want := range map[string]bool{"": true, " \t\n": true, "undefined": true, "UNDEFINED": true, "null": true, " Null ": true,
		"03AGdBq24": false, "nullable": false, "undefined-token": false} {
		if got := suite.Tokenless(in); got != want {
			t.Errorf("Tokenless(%q) = %v, want %v", in, got, want)
		}
	}
}

// TestPortWatchWithoutStart: a backend the harness did not start closes
// its port during a case. That case fails with "backend crashed"; the
// harness cannot restart it, waits for it to come back, then reports the
// remaining cases as not run.
func TestPortWatchWithoutStart(t *testing.T) {
	t.Parallel()
	var (
		mu  sync.Mutex
		n   int
		srv *httptest.Server // set before any request
	)
	tg, m, s := wrappedBackendServer(t, func(_ string, next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			n++
			second, self := n == 2, srv
			mu.Unlock()
			if second { // the second request takes the backend down
				self.Listener.Close()
				if c, _, err := w.(http.Hijacker).Hijack(); err == nil {
					c.Close()
				}
				return
			}
			next.ServeHTTP(w, r)
		})
	}, "", "")
	mu.Lock()
	srv = s
	mu.Unlock()
	rep, err := suite.Run(context.Background(), suite.Config{Target: tg, Mock: m, Focus: []string{"ACCEPT-001", "REJECT-004", "REJECT-010"}})
	if err != nil {
		t.Fatal(err)
	}
	got := []suite.Status{rep.Results[0].Status, rep.Results[1].Status, rep.Results[2].Status}
	if !slices.Equal(got, []suite.Status{suite.StatusPassed, suite.StatusFailed, suite.StatusError}) {
		t.Fatalf("statuses = %v, want passed, failed, error", got)
	}
	cr := rep.Results[1].Crash
	if cr == nil || !strings.HasPrefix(cr.Status, "running, but 127.0.0.1:") || cr.Restarted ||
		!strings.Contains(cr.RestartError, "the target has no start section") {
		t.Errorf("REJECT-004 crash = %+v", cr)
	}
	if a := rep.Results[2].Actual; !strings.HasPrefix(a, "not run: the backend crashed during REJECT-004") {
		t.Errorf("REJECT-010 actual = %q", a)
	}
}
