package mockserver

import (
	"context"
	"fmt"
	"time"
)

// Mock is what a test harness needs from a mock siteverify server. *Server
// implements it in-process and *Client over the admin API, so the same code
// can drive a mock in its own process or one started with `siteverify serve`.
// Each operation has this one name on both.
type Mock interface {
	// URL is the mock's base URL, with no trailing slash.
	URL() string
	// VerifyURL is the siteverify URL to configure the code under test with.
	VerifyURL() string
	// Site is the default site.
	Site() Site
	// Issue mints a token.
	Issue(ctx context.Context, spec TokenSpec) (Issued, error)
	// AddSite registers a site; empty keys are generated.
	AddSite(ctx context.Context, site Site) (Site, error)
	// Advance moves the mock's clock forward by d > 0, so tokens age
	// without sleeping, and returns the new time. It is an error if d <= 0
	// (time does not run backwards; Reset restores the clock) or if the
	// clock would move more than MaxTimeRange ahead of real time.
	Advance(ctx context.Context, d time.Duration) (time.Time, error)
	// Journal returns the request journal.
	Journal(ctx context.Context) (Journal, error)
	// JournalSince returns the requests with a sequence number above seq
	// (and Received, the newest sequence number, even when none are).
	JournalSince(ctx context.Context, seq uint64) (Journal, error)
	// ClearJournal empties the journal.
	ClearJournal(ctx context.Context) error
	// AddRule adds a scripted rule and returns it with its ID.
	AddRule(ctx context.Context, r Rule) (Rule, error)
	// RemoveRule removes one rule; it is an error if there is none.
	RemoveRule(ctx context.Context, id string) error
	// ClearRules removes every rule.
	ClearRules(ctx context.Context) error
	// Reset returns the mock to its starting state.
	Reset(ctx context.Context) error
}

var (
	_ Mock = (*Server)(nil)
	_ Mock = (*Client)(nil)
)

// Issue mints a token as spec describes. Issuing costs no memory: the token
// carries its claims, signed.
func (s *Server) Issue(_ context.Context, spec TokenSpec) (Issued, error) { return s.issue(spec) }

// Advance implements Mock.
func (s *Server) Advance(_ context.Context, d time.Duration) (time.Time, error) {
	if d <= 0 {
		return s.Now(), fmt.Errorf("advance %v: want a positive duration", d)
	}
	if err := s.clock.advance(d); err != nil {
		return s.Now(), err
	}
	return s.Now(), nil
}

// Journal returns a snapshot of the request journal.
func (s *Server) Journal(context.Context) (Journal, error) { return s.journal.snapshot(), nil }

// JournalSince implements Mock.
func (s *Server) JournalSince(_ context.Context, seq uint64) (Journal, error) {
	return s.journal.snapshotSince(seq), nil
}

// ClearJournal empties the journal.
func (s *Server) ClearJournal(context.Context) error { s.journal.clear(); return nil }
