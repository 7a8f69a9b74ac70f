package mockserver_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/siteverify/siteverify/mockserver"
)

// Many simultaneous verifications of one token yield exactly one success,
// over real connections, while other goroutines issue tokens, add rules, read
// the journal and move the clock.
func TestSingleUseUnderConcurrency(t *testing.T) {
	s := mockserver.New(t)
	client := &http.Client{Timeout: 10 * time.Second}
	for round := range 5 {
		tok := issue(t, s, mockserver.TokenSpec{Lifetime: time.Hour})
		var successes, duplicates atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 64 {
			wg.Go(func() {
				<-start
				resp, err := client.PostForm(s.VerifyURL(), url.Values{"secret": {s.Site().Secret}, "response": {tok}})
				if err != nil {
					t.Error(err)
					return
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				switch {
				case strings.Contains(string(b), `"success": true`):
					successes.Add(1)
				case strings.Contains(string(b), "timeout-or-duplicate"):
					duplicates.Add(1)
				default:
					t.Errorf("unexpected answer %s", b)
				}
			})
		}
		wg.Go(func() {
			<-start
			for range 50 {
				issue(t, s, mockserver.TokenSpec{})
				_ = journal(t, s)
				s.Advance(t.Context(), time.Millisecond)
				r, err := s.AddRule(t.Context(), mockserver.Rule{Match: mockserver.Match{Token: "never-sent"}, Status: 503})
				if err == nil {
					s.RemoveRule(t.Context(), r.ID)
				}
			}
		})
		close(start)
		wg.Wait()
		if successes.Load() != 1 || duplicates.Load() != 63 {
			t.Fatalf("round %d: %d successes and %d duplicates, want 1 and 63", round, successes.Load(), duplicates.Load())
		}
	}
}

// Concurrent Reset, site registration and verification must be race-free.
func TestConcurrentControlPlane(t *testing.T) {
	s := mockserver.New(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 50 {
				switch i % 4 {
				case 0:
					s.Reset(t.Context())
				case 1:
					_, _ = s.AddSite(t.Context(), mockserver.Site{})
				case 2:
					post(t, s, s.Site().Secret, issue(t, s, mockserver.TokenSpec{}))
				case 3:
					_, _ = s.AddRule(t.Context(), mockserver.Rule{Status: 503, Match: mockserver.Match{Token: "none"}})
				}
			}
		})
	}
	wg.Wait()
}
