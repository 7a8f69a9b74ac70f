package mockserver

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func startServer(t *testing.T, opts Options) *Server {
	t.Helper()
	s, err := NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// verifyOnce sends one siteverify request through the handler and returns
// the body.
func verifyOnce(s *Server, secret, token string) string {
	req := httptest.NewRequest(http.MethodPost, VerifyPath,
		strings.NewReader(url.Values{"secret": {secret}, "response": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	return rec.Body.String()
}

func succeeded(body string) bool { return strings.Contains(body, `"success": true`) }

// tokenInShard mints tokens until one's id lands in the given spent-set
// shard (one in 16 does).
func tokenInShard(t *testing.T, s *Server, shard byte, spec TokenSpec) string {
	t.Helper()
	for range 10000 {
		tok := issue(t, s, spec)
		c, err := s.codec.decode(tok)
		if err != nil {
			t.Fatal(err)
		}
		if c.id[0]%spentShards == shard {
			return tok
		}
	}
	t.Fatal("no token in shard")
	return ""
}

// forceSweep makes the next verification on every shard clean up first.
func forceSweep(s *spentSet) {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		sh.nextSweep = 0
		sh.mu.Unlock()
	}
}

// Issue 8, defect 1: a replay whose single-use decision comes after a
// clean-up that ran once the token had expired must not succeed, even if the
// replay looked at the clock while the token was still live. The test hook
// runs the clean-up exactly between the two.
func TestSingleUseWithSweepBetweenAgeAndSpend(t *testing.T) {
	s := startServer(t, Options{})
	secret := s.Site().Secret
	tok := issue(t, s, TokenSpec{Lifetime: time.Hour})
	c, err := s.codec.decode(tok)
	if err != nil {
		t.Fatal(err)
	}
	if !succeeded(verifyOnce(s, secret, tok)) {
		t.Fatal("first verification failed")
	}
	for _, advance := range []time.Duration{0, time.Hour + time.Second} {
		// A fresh token in the same shard: verifying it cleans up the shard.
		other := tokenInShard(t, s, c.id[0]%spentShards, TokenSpec{Lifetime: 24 * time.Hour})
		s.testHookBeforeSpend = func() {
			s.testHookBeforeSpend = nil
			if advance > 0 {
				if _, err := s.Advance(t.Context(), advance); err != nil {
					t.Error(err)
				}
			}
			forceSweep(&s.spent)
			if !succeeded(verifyOnce(s, secret, other)) {
				t.Error("the token that triggers the clean-up did not verify")
			}
		}
		if body := verifyOnce(s, secret, tok); succeeded(body) || !strings.Contains(body, "timeout-or-duplicate") {
			t.Fatalf("advance %v: replay with a clean-up just before its single-use check answered %s", advance, body)
		}
	}
}

// Issue 13: the clean-up never forgets a token that can still verify, with
// many clean-ups running on one shard at once, while it does forget expired
// ones (memory stays bounded). Spent tokens expire from a few milliseconds to
// an hour after the start; while clean-ups run, replaying any of them must
// answer "duplicate" or, once it is past its lifetime, "expired", never
// "fresh".
func TestSpentSweepKeepsLiveTokens(t *testing.T) {
	var clk clock
	clk.start()
	var set spentSet
	idIn0 := func(n uint64) (id [16]byte) { // every id in shard 0
		for i := range 8 {
			id[1+i] = byte(n >> (8 * i))
		}
		return id
	}
	const spent = 500
	start := clk.now()
	// One token in five lives an hour; the others expire one a millisecond.
	expiry := func(i int) time.Time {
		if i%5 == 4 {
			return start.Add(time.Hour).Truncate(time.Millisecond)
		}
		return start.Add(time.Duration(5+i) * time.Millisecond).Truncate(time.Millisecond)
	}
	var isSpent [spent]bool // false if it expired before it could be spent (a slow start)
	for i := range spent {
		isSpent[i] = set.spend(idIn0(uint64(i)), expiry(i), &clk, "") == spendFresh
	}
	if !isSpent[spent-1] {
		t.Fatal("an hour-long token could not be spent")
	}
	var next atomic.Uint64
	next.Store(spent)
	var inserted atomic.Int64
	done := make(chan struct{})
	var writers, checkers sync.WaitGroup
	for range 4 {
		writers.Go(func() {
			for time.Since(start) < 600*time.Millisecond {
				// Tokens that expire within two milliseconds, so the shard
				// keeps cleaning up.
				exp := clk.now().Truncate(time.Millisecond).Add(2 * time.Millisecond)
				if set.spend(idIn0(next.Add(1)), exp, &clk, "") == spendFresh {
					inserted.Add(1)
				}
			}
		})
	}
	for range 2 {
		checkers.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				for i := range spent {
					if r := set.spend(idIn0(uint64(i)), expiry(i), &clk, ""); r == spendFresh && isSpent[i] {
						t.Errorf("token %d, spent and expiring at %v, was forgotten at %v", i,
							expiry(i).Sub(start), clk.now().Sub(start))
						return
					}
				}
			}
		})
	}
	writers.Wait()
	close(done)
	checkers.Wait()
	for i := 4; i < spent; i += 5 {
		if r := set.spend(idIn0(uint64(i)), expiry(i), &clk, ""); r != spendDuplicate {
			t.Fatalf("after the clean-ups, token %d (an hour long) answered %v, want a duplicate", i, r)
		}
	}
	if n, total := set.len(), inserted.Load(); int64(n) > spent+total/2 {
		t.Fatalf("spent set holds %d entries after %d short-lived ones: expired ones are not cleaned up", n, total)
	}
}

// Stress at the expiry edge: each token, a few milliseconds long, is
// replayed by several goroutines until it expires, while another goroutine
// keeps cleaning up every shard. Each verifies at most once.
func TestSingleUseAtExpiryEdgeStress(t *testing.T) {
	s := startServer(t, Options{})
	site := s.Site()
	verify := func(tok string) verdict {
		return s.verify(ReCAPTCHA, &verifyRequest{secret: site.Secret, token: tok}, s.lookup(site.Secret, tok))
	}
	fresh := make([]string, 5000)
	for i := range fresh {
		fresh[i] = issue(t, s, TokenSpec{Lifetime: time.Hour})
	}
	stop := make(chan struct{})
	var sweeper sync.WaitGroup
	sweeper.Go(func() {
		for _, tok := range fresh {
			select {
			case <-stop:
				return
			default:
			}
			forceSweep(&s.spent)
			verify(tok) // a first verification: cleans up its shard
		}
	})
	const rounds, replayers = 100, 4
	twice := 0
	for range rounds {
		tok := issue(t, s, TokenSpec{Lifetime: 2 * time.Millisecond})
		var successes atomic.Int32
		var wg sync.WaitGroup
		for range replayers {
			wg.Go(func() {
				for range 100000 {
					switch verify(tok).outcome {
					case outcomeSuccess:
						successes.Add(1)
					case outcomeExpired:
						return
					}
				}
			})
		}
		wg.Wait()
		if successes.Load() > 1 {
			twice++
		}
	}
	close(stop)
	sweeper.Wait()
	if twice > 0 {
		t.Fatalf("%d of %d tokens verified more than once at their expiry", twice, rounds)
	}
}

// issue mints a token on s, failing the test if the spec is refused.
func issue(t testing.TB, s *Server, spec TokenSpec) string {
	t.Helper()
	iss, err := s.issue(spec)
	if err != nil {
		t.Fatalf("issue %+v: %v", spec, err)
	}
	return iss.Token
}
