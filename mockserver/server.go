package mockserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// AdminPrefix is where the admin API lives (the prefix WireMock users know).
const AdminPrefix = "/__admin/"

// Options configures a Server. The zero value is a working server on a free
// loopback port with a fresh V3 default site.
type Options struct {
	// Addr is the address to listen on, e.g. "127.0.0.1:8089". Empty means
	// "127.0.0.1:0", a free loopback port.
	Addr string
	// AdminToken, when set, is required as "Authorization: Bearer <token>" on
	// every /__admin/ call. Listening on a non-loopback address without one is
	// refused, since the admin API can mint tokens and script answers.
	AdminToken string
	// DefaultSite is the site used when a token spec names none. Empty keys
	// are generated, shaped like the kind's provider's (for reCAPTCHA, 40
	// characters starting "6L").
	DefaultSite Site
	// providerDefaults are the other providers' default sites, generated
	// at start and kept across Reset.
	providerDefaults []Site
	// Sites are further sites to register.
	Sites []Site
	// Tokens are named tokens: fixed strings that verify as their spec says,
	// for clients that cannot call the admin API.
	Tokens []NamedToken
	// Rules are scripted rules to install at start.
	Rules []Rule
	// JournalSize bounds the request journal; 0 means DefaultJournalSize.
	JournalSize int
	// SigningKey is the HMAC key for tokens (at least 16 bytes); empty means
	// random. Replicas that share a key accept each other's tokens.
	SigningKey []byte
	// Logger receives one record per request at Debug level and lifecycle
	// records at Info. Secrets are never logged. Nil discards.
	Logger *slog.Logger
	// Routes adds handlers on the mock's listener, keyed by ServeMux pattern
	// (the browser package serves the client script this way).
	Routes map[string]http.Handler
}

// NamedToken is a token with a well-known string, loaded from a fixtures
// file or Options.Tokens.
type NamedToken struct {
	// Token is the exact string clients send as "response".
	Token string `json:"token"`
	// Spec describes the answer. IssuedAt is ignored: a named token is
	// Spec.IssuedAgo old at every verification, so one at or beyond its
	// lifetime is always expired.
	Spec TokenSpec `json:"spec"`
	// Reusable tokens verify any number of times; others verify once until
	// the next Reset.
	Reusable bool `json:"reusable,omitempty"`
}

// Server is a running mock siteverify server. Its methods are safe for
// concurrent use.
type Server struct {
	logger      *slog.Logger
	adminToken  string
	listener    net.Listener
	http        *http.Server
	url         string
	codec       *tokenCodec
	clock       clock
	spent       spentSet
	journal     *journal
	rules       ruleSet
	handler     http.Handler
	closing     chan struct{}
	closeOnce   sync.Once
	serveDone   chan struct{}
	initialOpts Options
	client      clientState // client script (api.js stand-in): scores and mint log; see clientscript.go

	// testHookBeforeSpend, when set by a test, runs between a verification's
	// decoding of a token and its single-use decision.
	testHookBeforeSpend func()

	connMu sync.Mutex
	fresh  map[net.Conn]struct{} // connections that have not sent a request yet; see Close

	mu         sync.RWMutex // guards siteTables
	siteTables              // replaced whole by Reset
}

type namedState struct {
	NamedToken
	used bool
}

// TB is the part of testing.TB that New needs; *testing.T, *testing.B and
// Ginkgo's GinkgoT() all satisfy it.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Cleanup(func())
}

// New starts a Server for a test and closes it when the test ends, like
// httptest.NewServer. It fails the test if the server cannot start.
func New(t TB, opts ...Option) *Server {
	t.Helper()
	var o Options
	for _, opt := range opts {
		opt(&o)
	}
	s, err := NewServer(o)
	if err != nil {
		t.Fatalf("mockserver: %v", err)
		return nil
	}
	t.Cleanup(s.Close)
	return s
}

// Option adjusts Options for New.
type Option func(*Options)

// WithOptions replaces all options at once.
func WithOptions(o Options) Option { return func(dst *Options) { *dst = o } }

// WithSite sets the default site.
func WithSite(s Site) Option { return func(o *Options) { o.DefaultSite = s } }

// WithRules installs rules at start.
func WithRules(rules ...Rule) Option {
	return func(o *Options) { o.Rules = append(o.Rules, rules...) }
}

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(o *Options) { o.Logger = l } }

// WithJournalSize bounds the journal.
func WithJournalSize(n int) Option { return func(o *Options) { o.JournalSize = n } }

// NewServer starts a Server as configured. Close it when done.
func NewServer(opts Options) (*Server, error) {
	codec, err := newTokenCodec(opts.SigningKey)
	if err != nil {
		return nil, err
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		logger:      logger,
		adminToken:  opts.AdminToken,
		codec:       codec,
		journal:     newJournal(opts.JournalSize),
		closing:     make(chan struct{}),
		serveDone:   make(chan struct{}),
		initialOpts: opts,
		fresh:       map[net.Conn]struct{}{},
	}
	s.clock.start()
	tables, rules, err := s.buildState(opts)
	if err != nil {
		return nil, err
	}
	s.siteTables = tables
	s.rules.replace(rules)
	s.initialOpts.DefaultSite = s.defaultSite // keep generated keys across Reset
	for p, site := range tables.byProvider {
		if p != s.defaultSite.Kind.Provider() {
			s.initialOpts.providerDefaults = append(s.initialOpts.providerDefaults, site)
		}
	}
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	if opts.AdminToken == "" && !isLoopback(ln.Addr()) {
		ln.Close()
		return nil, fmt.Errorf("refusing to listen on non-loopback address %s without an admin token: the admin API would be open to the network (set an admin token, or bind 127.0.0.1)", ln.Addr())
	}
	s.listener = ln
	s.url = "http://" + ln.Addr().String()
	s.handler = s.routes(opts.Routes)
	s.http = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second, // a body trickled in slowly cannot hold a handler forever
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
		ConnState:         s.trackConn,
	}
	// HTTP/2 in clear text (prior knowledge) as well as HTTP/1.1: gRPC
	// clients of reCAPTCHA Enterprise, pointed at the mock's port, speak it
	// (a route such as package enterprisegrpc's serves them, see Routes).
	s.http.Protocols = new(http.Protocols)
	s.http.Protocols.SetHTTP1(true)
	s.http.Protocols.SetUnencryptedHTTP2(true)
	go func() {
		defer close(s.serveDone)
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("serve", "err", err)
		}
	}()
	return s, nil
}

// buildState builds the sites, named tokens and rules of opts without
// touching the server's, so that Reset can swap them in whole.
func (s *Server) buildState(opts Options) (siteTables, *ruleSet, error) {
	def := opts.DefaultSite
	if def.SiteKey == "" {
		def.SiteKey = randomKey()
	}
	if def.Secret == "" {
		def.Secret = randomKey()
	}
	t := newSiteTables(def.withDefaults())
	// Every other provider gets a default site too, generated once and kept
	// across Reset like the default site's keys.
	t.byProvider = map[*Provider]Site{}
	if opts.providerDefaults == nil {
		for _, p := range Providers() {
			if p != t.defaultSite.Kind.Provider() {
				opts.providerDefaults = append(opts.providerDefaults, NewSite(p.kinds[0]))
			}
		}
	}
	for _, site := range opts.providerDefaults {
		t.byProvider[site.Kind.Provider()] = site
	}
	rules := new(ruleSet)
	sites := append([]Site{ReCAPTCHA.TestSite(), def}, opts.providerDefaults...)
	for _, site := range append(sites, opts.Sites...) {
		site, err := prepareSite(site)
		if err == nil {
			_, err = t.add(site)
		}
		if err != nil {
			return siteTables{}, nil, err
		}
	}
	for _, nt := range opts.Tokens {
		if err := s.addNamed(&t, nt); err != nil {
			return siteTables{}, nil, err
		}
	}
	for _, r := range opts.Rules {
		if _, err := rules.add(r); err != nil {
			return siteTables{}, nil, err
		}
	}
	return t, rules, nil
}

// trackConn remembers connections that have not sent a request yet, which
// http.Server.Shutdown would otherwise wait five seconds for (a browser's
// preconnect, a client that connected and went quiet).
func (s *Server) trackConn(c net.Conn, st http.ConnState) {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	if st != http.StateNew {
		delete(s.fresh, c)
		return
	}
	select {
	case <-s.closing:
		c.Close()
	default:
		s.fresh[c] = struct{}{}
	}
}

func isLoopback(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// URL is the server's base URL, e.g. "http://127.0.0.1:41234", with no
// trailing slash.
func (s *Server) URL() string { return s.url }

// VerifyURL is the full siteverify URL to configure the code under test with.
// It is the path of the default site's provider; another provider's is
// URL() + its VerifyPath.
func (s *Server) VerifyURL() string { return s.url + s.Site().Kind.Provider().verifyPath }

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.listener.Addr() }

// Handler is the server's whole HTTP handler (siteverify, admin API and extra
// routes), for mounting on another server or calling directly.
func (s *Server) Handler() http.Handler { return s.handler }

// Site returns the default site.
func (s *Server) Site() Site {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.defaultSite
}

// Sites returns every registered site, Google's test site included.
func (s *Server) Sites() []Site {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Site, 0, len(s.bySiteKey))
	for _, site := range s.bySiteKey {
		out = append(out, site)
	}
	return out
}

// Close stops the server: hung answers are released, idle connections are
// closed at once, in-flight requests get up to five seconds to finish, and
// then connections are closed. It is idempotent and safe to call from
// several goroutines.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.connMu.Lock()
		close(s.closing)
		for c := range s.fresh {
			c.Close()
		}
		s.connMu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.http.Shutdown(ctx); err != nil {
			s.http.Close()
		}
		<-s.serveDone
	})
}

// Now is the current time on the mock's clock.
func (s *Server) Now() time.Time { return s.clock.now() }

// Reset returns the server to its starting state: the journal, spent tokens,
// rules and clock offset are cleared; sites, named tokens and rules from the
// Options are reinstalled (named tokens become unused again); sites added
// since start are removed. Tokens issued before keep verifying, since the
// signing key is kept. The new sites and rules are built first and swapped
// in whole, so concurrent verifications never see them half-built; requests
// held by a deleted rule (a hang or delay) are released at once.
func (s *Server) Reset(context.Context) error {
	s.reset()
	return nil
}

func (s *Server) reset() {
	// The options were valid at start, so rebuilding them cannot fail.
	tables, rules, err := s.buildState(s.initialOpts)
	if err != nil {
		s.logger.Error("reset", "err", err)
		return
	}
	s.mu.Lock()
	s.siteTables = tables
	s.mu.Unlock()
	s.rules.replace(rules)
	s.clock.reset() // before the spent set, so no clean-up runs on the old clock after it
	s.spent.reset()
	s.journal.clear()
	s.client.reset() // client script scores and mint log; see clientscript.go
}

// AddSite registers a site; empty keys are generated. It returns the site as
// registered.
func (s *Server) AddSite(_ context.Context, site Site) (Site, error) { return s.addSite(site) }

func (s *Server) addSite(site Site) (Site, error) {
	site, err := prepareSite(site)
	if err != nil {
		return Site{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.siteTables.add(site)
}

const (
	maxSites       = 10000
	maxNamedTokens = 10000
)

// addNamed adds a named token to t, whose sites its spec may name.
func (s *Server) addNamed(t *siteTables, nt NamedToken) error {
	switch {
	case nt.Token == "":
		return fmt.Errorf("named token: token is empty")
	case len(nt.Token) > MaxTokenLength:
		return fmt.Errorf("named token %s: longer than %d characters", abbreviate(nt.Token), MaxTokenLength)
	}
	// Validate the spec the way Issue would, without minting.
	site, err := t.siteFor(nt.Spec.SiteKey, nt.Spec.Kind)
	if err == nil {
		_, err = s.claimsFor(nt.Spec, site)
	}
	if err != nil {
		return fmt.Errorf("named token %s: %w", abbreviate(nt.Token), err)
	}
	if len(t.named) >= maxNamedTokens {
		return fmt.Errorf("too many named tokens (%d)", maxNamedTokens)
	}
	t.named[nt.Token] = &namedState{NamedToken: nt}
	return nil
}

func (s *Server) issue(spec TokenSpec) (Issued, error) {
	c, _, err := s.buildClaims(spec)
	if err != nil {
		return Issued{}, err
	}
	tok, err := s.codec.encode(c)
	if err != nil {
		return Issued{}, err
	}
	return Issued{Token: tok, ExpiresAt: c.expiresAt()}, nil
}

// buildClaims turns a spec into claims, filling defaults from the site.
func (s *Server) buildClaims(spec TokenSpec) (*claims, Site, error) {
	s.mu.RLock()
	site, err := s.siteTables.siteFor(spec.SiteKey, spec.Kind)
	s.mu.RUnlock()
	if err != nil {
		return nil, Site{}, err
	}
	c, err := s.claimsFor(spec, site)
	if err != nil {
		return nil, Site{}, err
	}
	return c, site, nil
}

// claimsFor turns a spec into claims for site, validating every field.
func (s *Server) claimsFor(spec TokenSpec, site Site) (*claims, error) {
	kind := spec.Kind
	if kind == "" {
		kind = site.Kind
	}
	if !kind.Valid() {
		return nil, fmt.Errorf("unknown kind %q (want one of %v)", kind, KeyKinds())
	}
	if p := site.Kind.Provider(); kind.Provider() != p {
		return nil, fmt.Errorf("kind %s is a %s kind, and site %s is a %s site: want one of %v, or a %s site",
			kind, kind.Provider(), abbreviate(site.SiteKey), p, p.kinds, kind.Provider())
	}
	score, err := scoreToMilli(spec.Score)
	if err != nil {
		return nil, err
	}
	if kind == HCaptchaEnterprise && spec.Score == 0 {
		score = 0 // hCaptcha's scale is inverted: the default is a safe user (§3.2)
	}
	if spec.Lifetime < 0 || spec.Lifetime > 24*time.Hour {
		return nil, fmt.Errorf("lifetime %v: want between 0 (default %v) and 24h", spec.Lifetime, DefaultTokenLifetime)
	}
	c := &claims{kind: kind, omitScore: spec.OmitScore, scoreMilli: score, siteKey: site.SiteKey,
		lifetime: spec.Lifetime, issuedAt: spec.IssuedAt}
	if c.lifetime == 0 {
		c.lifetime = kind.Provider().tokenLifetime
	}
	if spec.IssuedAgo < 0 || spec.IssuedAgo > MaxTimeRange {
		return nil, fmt.Errorf("issued_ago %v: want between 0 and %v (100 years)", spec.IssuedAgo, MaxTimeRange)
	}
	now := s.clock.now()
	if c.issuedAt.IsZero() {
		c.issuedAt = now.Add(-spec.IssuedAgo)
	} else if err := checkIssuedAt(c.issuedAt, now); err != nil {
		return nil, err
	}
	c.issuedAt = c.issuedAt.Truncate(time.Millisecond).UTC()
	if c.reasons, err = parseReasons(spec.Reasons); err != nil {
		return nil, err
	}
	if c.reasons != 0 && kind.Provider() != Enterprise {
		return nil, fmt.Errorf("reasons are reCAPTCHA Enterprise's, and the kind is %s", kind)
	}
	switch kind {
	case V3, EnterpriseScore, EnterpriseCheckbox:
		c.action = spec.Action
		if c.action == "" {
			c.action = DefaultAction
		}
	case TurnstileStandard:
		c.action, c.cdata = spec.Action, spec.CData // empty when unset: Turnstile answers "" (§4.3)
	}
	if kind == Android {
		c.hostname = spec.PackageName
		if c.hostname == "" {
			c.hostname = site.PackageName
		}
	} else {
		c.hostname = spec.Hostname
		if c.hostname == "" {
			c.hostname = site.Hostname
		}
	}
	if _, err := randRead(c.id[:]); err != nil {
		return nil, err
	}
	return c, nil
}

// AddRule installs a scripted rule and returns it with its ID.
func (s *Server) AddRule(_ context.Context, r Rule) (Rule, error) { return s.rules.add(r) }

// RemoveRule deletes the rule with the given ID; it is an error if there is
// none. Requests the rule is holding (a hang or delay) are released at once,
// as if their wait had run out.
func (s *Server) RemoveRule(_ context.Context, id string) error {
	if !s.rules.remove(id) {
		return fmt.Errorf("no rule with id %q", id)
	}
	return nil
}

// Rules lists the active rules, each with the answers it has left in Times
// and any secret in its Match shown as a fingerprint.
func (s *Server) Rules() []Rule { return s.rules.list() }

// ClearRules deletes every rule, releasing the requests they hold as
// RemoveRule does.
func (s *Server) ClearRules(context.Context) error {
	s.rules.clear()
	return nil
}
