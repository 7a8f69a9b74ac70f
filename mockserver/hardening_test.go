package mockserver_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/siteverify/siteverify/mockserver"
)

// Issue 8, defect 2: the clock cannot be moved beyond MaxTimeRange, so it
// never wraps (it read 1734 after two huge advances), and a refused advance
// leaves it alone.
func TestClockBoundedAndMonotonic(t *testing.T) {
	s := mockserver.New(t)
	before := s.Now()
	for _, advance := range []string{`"9223372036854775807"`, `"9223372036854775807"`, `"876001h"`} {
		code, body := admin(t, s, http.MethodPost, "/__admin/clock", `{"advance": `+advance+`}`, "")
		if code != http.StatusBadRequest || !strings.Contains(body, "100 years") {
			t.Fatalf("advance %s: HTTP %d %s, want 400 naming the 100-year limit", advance, code, body)
		}
	}
	if now := s.Now(); now.Before(before) || now.Sub(before) > time.Hour {
		t.Fatalf("clock moved from %v to %v after refused advances", before, now)
	}
	// Up to the limit is fine; one nanosecond more is not.
	if _, err := s.Advance(t.Context(), mockserver.MaxTimeRange-time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Advance(context.Background(), 2*time.Hour); err == nil || !strings.Contains(err.Error(), "100 years") {
		t.Fatalf("Advance past the limit: %v, want an error naming it", err)
	}
	last := s.Now()
	for range 3 {
		if now := s.Now(); now.Before(last) {
			t.Fatalf("clock ran backwards: %v then %v", last, now)
		}
	}
	// Single use still holds a century ahead.
	tok := issue(t, s, mockserver.TokenSpec{})
	wantSuccess(t, post(t, s, s.Site().Secret, tok))
	wantCodes(t, post(t, s, s.Site().Secret, tok), "timeout-or-duplicate")

	// The Dial client gets the same error.
	s.Reset(t.Context())
	c, err := mockserver.Dial(context.Background(), s.URL(), mockserver.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Advance(context.Background(), mockserver.MaxTimeRange+time.Nanosecond); err == nil || !strings.Contains(err.Error(), "100 years") {
		t.Fatalf("Client.Advance past the limit: %v, want an error naming it", err)
	}
}

// Issue 8, defect 2: time inputs far out of range are a clear 400 (issued_at
// 9999-12-31 was a 500) and a Go error, never an overflow.
func TestTimeInputsBounded(t *testing.T) {
	s := mockserver.New(t)
	for _, spec := range []string{
		`{"issued_at": "9999-12-31T00:00:00Z"}`,
		`{"issued_at": "0001-01-01T00:00:01Z"}`,
		`{"issued_at": "1800-01-01T00:00:00Z"}`,
		`{"issued_ago": "876001h"}`,
		`{"issued_ago": "9223372036854775807"}`,
	} {
		code, body := admin(t, s, http.MethodPost, "/__admin/tokens", spec, "")
		if code != http.StatusBadRequest || !strings.Contains(body, "100 years") {
			t.Errorf("token %s: HTTP %d %s, want 400 naming the 100-year limit", spec, code, body)
		}
	}
	for _, rule := range []string{`{"status": 503, "delay": "9223372036854775807"}`, `{"status": 503, "delay": "2562047h"}`} {
		if code, body := admin(t, s, http.MethodPost, "/__admin/rules", rule, ""); code != http.StatusBadRequest || !strings.Contains(body, "10m0s") {
			t.Errorf("rule %s: HTTP %d %s, want 400 naming the 10-minute limit", rule, code, body)
		}
	}
	for _, spec := range []mockserver.TokenSpec{
		{IssuedAt: time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)},
		{IssuedAt: time.Unix(-1<<62, 0)},
		{IssuedAgo: mockserver.MaxTimeRange + time.Nanosecond},
		{IssuedAgo: -time.Second},
		{Lifetime: 1<<63 - 1},
	} {
		if _, err := s.Issue(context.Background(), spec); err == nil {
			t.Errorf("Issue(%+v) succeeded, want an error", spec)
		}
	}
	// Inside the range works: a token issued 99 years ago is expired.
	iss, err := s.Issue(context.Background(), mockserver.TokenSpec{IssuedAt: s.Now().Add(-99 * 365 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	wantCodes(t, post(t, s, s.Site().Secret, iss.Token), "timeout-or-duplicate")
	// Named tokens (fixtures) are held to the same range.
	_, err = mockserver.NewServer(mockserver.Options{Tokens: []mockserver.NamedToken{
		{Token: "ancient", Spec: mockserver.TokenSpec{IssuedAgo: mockserver.MaxTimeRange + time.Hour}}}})
	if err == nil || !strings.Contains(err.Error(), "100 years") {
		t.Fatalf("named token issued 100 years ago: %v, want an error naming the limit", err)
	}
}

// Issue 8, defect 4: verifications running during resets see the old state
// or the new one, never a half-built one: Google's test key, a reusable
// named token and a rule from the options always answer as configured.
func TestResetIsAtomic(t *testing.T) {
	s := mockserver.New(t, mockserver.WithOptions(mockserver.Options{
		Tokens: []mockserver.NamedToken{{Token: "always-good", Reusable: true}},
		Rules:  []mockserver.Rule{{Match: mockserver.Match{Token: "scripted"}, Times: mockserver.Forever, ErrorCodes: []string{"scripted"}}},
	}))
	secret := s.Site().Secret
	stop := make(chan struct{})
	var resets atomic.Int32
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				s.Reset(t.Context())
				resets.Add(1)
			}
		}
	})
	var bad atomic.Int32
	check := func(name string, a answer, ok bool) {
		if !ok && bad.Add(1) <= 5 {
			t.Errorf("%s during a reset: %s", name, a.raw)
		}
	}
	for range 3 {
		wg.Go(func() {
			for range 800 {
				a := post(t, s, mockserver.TestSecret, "anything")
				check("test key", a, a.Success)
				a = post(t, s, secret, "always-good")
				check("named token", a, a.Success)
				a = post(t, s, secret, "scripted")
				check("rule", a, len(a.ErrorCodes) == 1 && a.ErrorCodes[0] == "scripted")
			}
		})
	}
	time.Sleep(10 * time.Millisecond)
	for resets.Load() < 20 {
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if bad.Load() > 0 {
		t.Fatalf("%d wrong answers during %d resets", bad.Load(), resets.Load())
	}
}

// countingHandler counts the per-request log records, which the server
// writes as a request's handler returns.
type countingHandler struct{ n atomic.Int32 }

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "siteverify" {
		h.n.Add(1)
	}
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }

// Issue 8, defect 5: deleting a rule, every rule, or resetting releases the
// requests the deleted rules hold (a hang of ten minutes here): the clients
// get their answer (a closed connection) and the handlers return.
func TestDeletingRulesReleasesHungRequests(t *testing.T) {
	const held = 4
	for _, tc := range []struct {
		name   string
		delete func(s *mockserver.Server, id string)
	}{
		{"RemoveRule", func(s *mockserver.Server, id string) {
			if err := s.RemoveRule(t.Context(), id); err != nil {
				t.Error(err)
			}
		}},
		{"ClearRules", func(s *mockserver.Server, _ string) { s.ClearRules(t.Context()) }},
		{"DELETE /__admin/rules", func(s *mockserver.Server, _ string) {
			if code, body := admin(t, s, http.MethodDelete, "/__admin/rules", "", ""); code != http.StatusNoContent {
				t.Errorf("HTTP %d %s", code, body)
			}
		}},
		{"DELETE /__admin/rules/{id}", func(s *mockserver.Server, id string) {
			if code, body := admin(t, s, http.MethodDelete, "/__admin/rules/"+id, "", ""); code != http.StatusNoContent {
				t.Errorf("HTTP %d %s", code, body)
			}
		}},
		{"Reset", func(s *mockserver.Server, _ string) { s.Reset(t.Context()) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := &countingHandler{}
			s := mockserver.New(t, mockserver.WithLogger(slog.New(logs)))
			goroutines := runtime.NumGoroutine()
			// One answer more than the requests it will hold, so that the
			// rule is still there to delete once all are held.
			rule, err := s.AddRule(t.Context(), mockserver.Rule{Fault: mockserver.FaultHang, Delay: mockserver.MaxRuleDelay, Times: held + 1})
			if err != nil {
				t.Fatal(err)
			}
			client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			done := make(chan error, held)
			for range held {
				go func() {
					resp, err := client.PostForm(s.VerifyURL(), url.Values{"secret": {"s"}, "response": {"t"}})
					if err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
					done <- err
				}()
			}
			waitFor(t, "all requests held by the rule", func() bool {
				rs := s.Rules()
				return len(rs) == 1 && rs[0].Times == 1
			})
			tc.delete(s, rule.ID)
			deadline := time.After(20 * time.Second) // the hang is ten minutes
			for range held {
				select {
				case err := <-done:
					if err == nil {
						t.Error("a hung request got an answer")
					}
				case <-deadline:
					t.Fatal("hung requests still held after the rule was deleted")
				}
			}
			waitFor(t, "the handlers to return", func() bool { return logs.n.Load() == held })
			client.CloseIdleConnections()
			http.DefaultClient.CloseIdleConnections() // admin's
			waitFor(t, "goroutines to end", func() bool { return runtime.NumGoroutine() <= goroutines+1 })
		})
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Issue 13: Close does not wait five seconds for connections with no
// request in flight: an idle keep-alive connection, or one that was opened
// and never used (a browser's preconnect).
func TestCloseDoesNotWaitForIdleConnections(t *testing.T) {
	s, err := mockserver.NewServer(mockserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{}
	defer client.CloseIdleConnections()
	resp, err := client.Get(s.URL() + "/__admin/health")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close() // the connection stays open, idle, in the client's pool
	quiet, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer quiet.Close()
	waitFor(t, "the quiet connection to be accepted", func() bool {
		code, _ := admin(t, s, http.MethodGet, "/__admin/health", "", "")
		return code == http.StatusOK // accepted in order: the quiet one came first
	})
	start := time.Now()
	s.Close()
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Close took %v with only idle connections open", d)
	}
	quiet.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := quiet.Read(make([]byte, 1)); err == nil {
		t.Fatalf("quiet connection still open after Close (read %d bytes)", n)
	}
}
