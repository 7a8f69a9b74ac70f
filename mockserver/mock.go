package mockserver

import (
	"context"
	"fmt"
	"time"
)

// Mock is what a test harness needs from a mock siteverify server. *Server
// implements it in-process and *Client over the admin API, so the same code
// can drive a mock in its own process or one started with `siteverify serve`.
type Mock interface {
	// URL is the mock's base URL, with no trailing slash.
	URL() string
	// VerifyURL is the siteverify URL to configure the code under test with.
	VerifyURL() string
	// Site is the default site.
	Site() Site
	// Issue mints a token.
	Issue(ctx context.Context, spec TokenSpec) (Issued, error)
	// RegisterSite adds a site; empty keys are generated.
	RegisterSite(ctx context.Context, site Site) (Site, error)
	// AdvanceClock moves the mock's clock forward and returns the new time.
	AdvanceClock(ctx context.Context, d time.Duration) (time.Time, error)
	// Journal returns the request journal.
	Journal(ctx context.Context) (Journal, error)
	// JournalSince returns the requests with a sequence number above seq
	// (and Received, the newest sequence number, even when none are).
	JournalSince(ctx context.Context, seq uint64) (Journal, error)
	// ClearJournal empties the journal.
	ClearJournal(ctx context.Context) error
	// InstallRule adds a scripted rule and returns it with its ID.
	InstallRule(ctx context.Context, r Rule) (Rule, error)
	// DeleteRule removes one rule.
	DeleteRule(ctx context.Context, id string) error
	// DeleteRules removes every rule.
	DeleteRules(ctx context.Context) error
	// ResetState returns the mock to its starting state.
	ResetState(ctx context.Context) error
}

var (
	_ Mock = (*Server)(nil)
	_ Mock = (*Client)(nil)
)

// Issue implements Mock.
func (s *Server) Issue(_ context.Context, spec TokenSpec) (Issued, error) { return s.issue(spec) }

// RegisterSite implements Mock.
func (s *Server) RegisterSite(_ context.Context, site Site) (Site, error) { return s.AddSite(site) }

// AdvanceClock implements Mock.
func (s *Server) AdvanceClock(_ context.Context, d time.Duration) (time.Time, error) {
	if d <= 0 {
		return s.Now(), fmt.Errorf("advance %v: want a positive duration", d)
	}
	if err := s.Advance(d); err != nil {
		return s.Now(), err
	}
	return s.Now(), nil
}

// Journal implements Mock.
func (s *Server) Journal(context.Context) (Journal, error) { return s.Requests(), nil }

// JournalSince implements Mock.
func (s *Server) JournalSince(_ context.Context, seq uint64) (Journal, error) {
	return s.journal.snapshotSince(seq), nil
}

// ClearJournal implements Mock.
func (s *Server) ClearJournal(context.Context) error { s.ClearRequests(); return nil }

// InstallRule implements Mock.
func (s *Server) InstallRule(_ context.Context, r Rule) (Rule, error) { return s.AddRule(r) }

// DeleteRule implements Mock.
func (s *Server) DeleteRule(_ context.Context, id string) error {
	if !s.RemoveRule(id) {
		return fmt.Errorf("no rule with id %q", id)
	}
	return nil
}

// DeleteRules implements Mock.
func (s *Server) DeleteRules(context.Context) error { s.ClearRules(); return nil }

// ResetState implements Mock.
func (s *Server) ResetState(context.Context) error { s.Reset(); return nil }
