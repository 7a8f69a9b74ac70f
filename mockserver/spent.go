package mockserver

import (
	"strings"
	"sync"
	"time"
)

// spentSet remembers verified tokens until they expire, which is all the
// single-use rule needs: an expired token is refused for its age anyway. It
// is sharded by token id to keep verifications of different tokens from
// contending on one lock.
//
// Single use must not depend on timing. So spend decides "expired" and
// "spent" together, under the shard's lock, from a clock reading taken under
// that lock, and the clean-up runs under the same lock. The clean-up deletes
// an entry only once it is expired at its own reading; every later decision
// on that shard reads the clock later, and the clock never runs backwards
// (Reset, which moves it back, also empties this set), so a forgotten token
// is one every later verification refuses as expired anyway.
type spentSet struct {
	shards [spentShards]spentShard
}

const spentShards = 16

type spentShard struct {
	mu        sync.Mutex
	expiry    map[[16]byte]int64  // token id -> expiry, unix milliseconds on the mock clock
	keys      map[[16]byte]string // token id -> the idempotency key of its success (Turnstile), swept with expiry
	nextSweep int
}

type spendResult uint8

const (
	spendFresh     spendResult = iota // this call is the one successful verification
	spendExpired                      // past its lifetime on the mock's clock
	spendDuplicate                    // verified before
	spendRetry                        // verified before with the same idempotency key: the original success again
)

// spend decides a verification of token id expiring at expires (whole
// milliseconds, as tokens carry them): expired, a replay, or the one
// success, which it records. A success verified with a non-empty
// idempotency key (Turnstile's idempotency_key) is recorded with it, and a
// later call with the same key is a retry that gets the success again, for
// as long as the token lives (wire-facts §4.2; how long Cloudflare keeps the
// key is not documented, so this is our choice).
func (s *spentSet) spend(id [16]byte, expires time.Time, clk *clock, key string) spendResult {
	sh := &s.shards[id[0]%spentShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	now := clk.now()
	if !now.Before(expires) {
		return spendExpired
	}
	if sh.expiry == nil {
		sh.expiry = make(map[[16]byte]int64)
	}
	if _, seen := sh.expiry[id]; seen {
		if k, ok := sh.keys[id]; ok && key != "" && k == key {
			return spendRetry
		}
		return spendDuplicate
	}
	// Amortised clean-up: sweep when the shard has doubled since the last
	// sweep, so memory tracks the tokens still inside their lifetime.
	if len(sh.expiry) >= sh.nextSweep {
		sh.sweep(now)
	}
	// Milliseconds cannot overflow for any time.Time, unlike UnixNano.
	sh.expiry[id] = expires.UnixMilli()
	if key != "" {
		if sh.keys == nil {
			sh.keys = make(map[[16]byte]string)
		}
		sh.keys[id] = strings.Clone(key) // not a view of the request's body
	}
	return spendFresh
}

// sweep forgets the tokens expired at now. The caller holds sh.mu.
func (sh *spentShard) sweep(now time.Time) {
	n := now.UnixMilli() // rounds down, so exp <= n implies expired at now
	for k, exp := range sh.expiry {
		if exp <= n {
			delete(sh.expiry, k)
			delete(sh.keys, k)
		}
	}
	sh.nextSweep = max(1024, 2*len(sh.expiry))
}

func (s *spentSet) len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += len(sh.expiry)
		sh.mu.Unlock()
	}
	return n
}

func (s *spentSet) reset() {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		sh.expiry, sh.keys, sh.nextSweep = nil, nil, 0
		sh.mu.Unlock()
	}
}
