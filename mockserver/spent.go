package mockserver

import (
	"sync"
	"time"
)

// spentSet remembers verified tokens until they expire, which is all the
// single-use rule needs: an expired token is refused for its age anyway. It
// is sharded by token id to keep verifications of different tokens from
// contending on one lock.
type spentSet struct {
	shards [spentShards]spentShard
}

const spentShards = 16

type spentShard struct {
	mu        sync.Mutex
	expiry    map[[16]byte]int64 // token id -> expiry, unix nanoseconds on the mock clock
	nextSweep int
}

// markSpent records id as verified and reports whether it was fresh, i.e.
// this call is the one and only successful verification. now and expires are
// on the mock's clock.
func (s *spentSet) markSpent(id [16]byte, now, expires time.Time) bool {
	sh := &s.shards[id[0]%spentShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.expiry == nil {
		sh.expiry = make(map[[16]byte]int64)
	}
	if _, seen := sh.expiry[id]; seen {
		return false
	}
	// Amortised clean-up: sweep when the shard has doubled since the last
	// sweep, so memory tracks the tokens still inside their lifetime.
	if len(sh.expiry) >= sh.nextSweep {
		n := now.UnixNano()
		for k, exp := range sh.expiry {
			if exp <= n {
				delete(sh.expiry, k)
			}
		}
		sh.nextSweep = max(1024, 2*len(sh.expiry))
	}
	sh.expiry[id] = expires.UnixNano()
	return true
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
		sh.expiry, sh.nextSweep = nil, 0
		sh.mu.Unlock()
	}
}
