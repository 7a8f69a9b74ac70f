package suite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/siteverify/siteverify/mockserver"
	"github.com/siteverify/siteverify/suite/target"
)

// Config configures a conformance run.
type Config struct {
	// Target is the parsed target file. Required.
	Target *target.Target
	// Mock is the mock siteverify server to use, e.g. a *mockserver.Server
	// or a *mockserver.Client from mockserver.Dial. Nil starts an in-process
	// mock for the run. The target's site is registered on it either way.
	Mock mockserver.Mock
	// Focus selects cases by ID (e.g. "REJECT-004"); empty means all.
	Focus []string
	// LabelFilter selects cases with a Ginkgo label-filter expression over
	// their labels (ID, area, level), e.g. "outage || (wire && must)".
	LabelFilter string
	// Strict makes failed SHOULD cases fail the run.
	Strict bool
	// Seed, when not 0, shuffles the case order with this seed; 0 runs the
	// catalog in order.
	Seed int64
	// Timeout bounds the whole run, backend start included; 0 means no
	// bound beyond the context.
	Timeout time.Duration
	// RequestTimeout, when not 0, bounds each request to the backend
	// except the hang case's, overriding the target. 0 takes it from the
	// target: the endpoint's request_timeout, else outage.answer_within
	// plus RequestMargin.
	RequestTimeout time.Duration
	// OnResult, if set, is called after each case with its result, from
	// the goroutine that ran the case.
	OnResult func(Result)
	// Environ is the environment a started backend inherits before the
	// target's start.env; nil means os.Environ().
	Environ []string
	// BackendOutput, if set, also receives a started backend's output as it
	// is written (the report keeps the last 256 KiB either way).
	BackendOutput io.Writer
	// CADir is the directory of the mock's test CA, made there on first
	// use, for a target that reaches the mock on the providers' real URLs
	// (start.use_proxy, start.resolve_providers, {{proxy_url}},
	// {{ca_file}}, {{tls_addr}}), e.g. "/var/cache/siteverify/ca". Empty
	// means intercept.DefaultCADir().
	CADir string
}

// RequestMargin is added to the target's outage.answer_within to bound a
// request to an endpoint without its own request_timeout: a backend may
// take up to answer_within to answer when siteverify hangs, and no
// ordinary answer should take longer.
const RequestMargin = time.Second

// Session is a prepared conformance run: the mock with the target's site
// registered, the backend started and ready, and the results so far. Run
// uses one; a Ginkgo suite creates one in BeforeSuite and runs cases with
// RunCase (see package suite/specs). A Session's methods may be called
// from several goroutines, but cases should run one at a time: a case
// installs rules and reads the journal of a shared mock.
type Session struct {
	cfg       Config
	target    *target.Target // placeholders expanded
	site      mockserver.Site
	mock      mockserver.Mock
	ownMock   *mockserver.Server
	client    *http.Client
	transport *http.Transport
	ipSeq     atomic.Uint32
	started   time.Time
	closeOnce sync.Once
	deadline  time.Time // the run's, from NewSession's context; zero if none
	port      int       // {{port}}, kept across restarts
	out       *tailBuffer
	watch     *watch        // nil when the backend cannot be watched
	icpt      *interception // nil unless the target reaches the mock on the providers' real URLs

	mu      sync.Mutex
	proc    *process // the current start of the backend; replaced on restart
	down    string   // why cases are no longer run ("" while the backend is up)
	notes   []string
	results []Result
	ended   time.Time
}

// NewSession validates cfg, prepares the mock and starts the backend if the
// target has a start section. Close it when done.
func NewSession(ctx context.Context, cfg Config) (_ *Session, err error) {
	if cfg.Target == nil {
		return nil, errors.New("suite: Config.Target is nil")
	}
	s := &Session{cfg: cfg, started: time.Now(), out: newTailBuffer(maxOutputBytes)}
	s.deadline, _ = ctx.Deadline()
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	t := cfg.Target
	s.mock = cfg.Mock
	if s.mock == nil {
		srv, err := mockserver.NewServer(mockserver.Options{})
		if err != nil {
			return nil, fmt.Errorf("start mock: %w", err)
		}
		s.mock, s.ownMock = srv, srv
	}

	site := mockserver.Site{SiteKey: t.SiteKey, Secret: t.Secret, Kind: t.Kind}
	if t.ProviderValue() == mockserver.Enterprise {
		site.Project = t.Project // the API key belongs to it
	}
	if site.SiteKey == "" || site.Secret == "" {
		gen := mockserver.NewSite(t.Kind)
		site.SiteKey = orDefault(site.SiteKey, gen.SiteKey)
		site.Secret = orDefault(site.Secret, gen.Secret)
	}
	if len(t.Endpoints) > 0 {
		if t.Kind == mockserver.Android && len(t.Endpoints[0].PackageNames) > 0 {
			site.PackageName = t.Endpoints[0].PackageNames[0]
		} else if len(t.Endpoints[0].Hostnames) > 0 {
			site.Hostname = t.Endpoints[0].Hostnames[0]
		}
	}
	if s.site, err = s.mock.AddSite(ctx, site); err != nil {
		return nil, fmt.Errorf("register the target's site on the mock at %s: %w", s.mock.URL(), err)
	}

	vars := target.Vars{VerifyURL: s.mock.URL() + verifyPath(t), MockURL: s.mock.URL(), Secret: s.site.Secret, SiteKey: s.site.SiteKey}
	if t.ProviderValue() == mockserver.Enterprise {
		vars.Project = s.site.Project
	}
	if t.Intercepts() {
		if s.icpt, err = startInterception(ctx, t, s.mock, cfg.CADir); err != nil {
			return nil, err
		}
		vars.ProxyURL, vars.CAFile, vars.TLSAddr = s.icpt.proxyURL, s.icpt.caFile, s.icpt.tlsAddr
	}
	if t.Start != nil {
		if vars.Port, err = freePort(); err != nil {
			return nil, fmt.Errorf("pick a port for the backend: %w", err)
		}
		s.port = vars.Port
	}
	if s.target, err = t.Expand(vars); err != nil {
		return nil, err
	}
	s.transport = &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       30 * time.Second,
		ResponseHeaderTimeout: 0, // bounded per request by a context
	}
	s.client = &http.Client{
		Transport:     s.transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if s.target.Start != nil {
		err := s.startBackend(ctx)
		if err != nil && addrInUse(err) && ctx.Err() == nil {
			// freePort's port was free when it checked, but another program
			// took it before the backend bound it (the backend exited with
			// EADDRINUSE, or the other program answered the readiness
			// probe): once more on a new port.
			if p := s.backend(); p != nil {
				_ = p.stop(s.deadline)
			}
			old, why := vars.Port, firstLine(err.Error())
			if vars.Port, err = freePort(); err != nil {
				return nil, fmt.Errorf("pick a port for the backend: %w", err)
			}
			s.port = vars.Port
			if s.target, err = t.Expand(vars); err != nil {
				return nil, err
			}
			fmt.Fprintf(s.out, "\n--- siteverify: port %d was taken by another program before the backend bound it (%s); starting it again on port %d ---\n", old, strings.TrimSuffix(why, "; its output:"), vars.Port)
			err = s.startBackend(ctx)
		}
		if err != nil {
			return nil, err
		}
	}
	s.watch = newWatch(s.target)
	return s, nil
}

// verifyPath is the path of the target's verify URL on the mock: the
// provider's, or for reCAPTCHA Enterprise the assessments path of the
// target's project.
func verifyPath(t *target.Target) string {
	if t.ProviderValue() == mockserver.Enterprise && t.Project != "" {
		return "/v1/projects/" + t.Project + "/assessments"
	}
	return t.ProviderValue().VerifyPath()
}

// startBackend starts the backend as the target's start section says and
// waits until it is ready.
func (s *Session) startBackend(ctx context.Context) error {
	st := s.target.Start
	environ := s.cfg.Environ
	if environ == nil {
		environ = os.Environ()
	}
	if d := st.ReadyTimeout.D(); d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	var wrap *nsWrap
	if s.icpt != nil {
		environ, wrap = s.icpt.environ(environ), s.icpt.wrap
	}
	p, err := startProcess(st, s.cfg.Target.Dir, environ, s.out, s.cfg.BackendOutput, wrap)
	if err != nil {
		return err
	}
	p.redact = s.redact
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()
	return p.waitReady(ctx, st.ReadyURL, s.port)
}

// backend returns the current start of the backend, nil without one.
func (s *Session) backend() *process {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc
}

// requestTimeout bounds a request to ep: Config.RequestTimeout, else the
// endpoint's request_timeout, else outage.answer_within plus RequestMargin.
func (s *Session) requestTimeout(ep *target.Endpoint) time.Duration {
	switch {
	case s.cfg.RequestTimeout > 0:
		return s.cfg.RequestTimeout
	case ep.RequestTimeout > 0:
		return ep.RequestTimeout.D()
	}
	return s.target.Outage.AnswerWithin.D() + RequestMargin
}

func orDefault(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// addrInUse reports whether a start error shows that the backend could not
// bind its address because it is in use (its output, quoted in the error,
// says so in the words of Go, Node, Python, Ruby or PHP).
func addrInUse(err error) bool {
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "eaddrinuse") || strings.Contains(msg, "address already in use")
}

// freePort returns a port that was free when it looked: another process
// may take it before the backend binds it (NewSession then retries once).
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// nextClientIP returns a fresh address from the documentation ranges
// 198.51.100.0/24 and 203.0.113.0/24 (RFC 5737).
func (s *Session) nextClientIP() string {
	n := s.ipSeq.Add(1) - 1
	n %= 508
	if n < 254 {
		return fmt.Sprintf("198.51.100.%d", n+1)
	}
	return fmt.Sprintf("203.0.113.%d", n-254+1)
}

// Target is the target with placeholders expanded.
func (s *Session) Target() *target.Target { return s.target }

// Mock is the mock the session drives.
func (s *Session) Mock() mockserver.Mock { return s.mock }

// Site is the target's site as registered on the mock.
func (s *Session) Site() mockserver.Site { return s.site }

// BackendOutput is what the started backend wrote so far (the last 256
// KiB), "" if the harness did not start it. The target's secret, should
// the backend print it (URL-encoded too), is replaced by "[secret]":
// reports are shared.
func (s *Session) BackendOutput() string { return s.redact(s.out.String()) }

// redact replaces the target's secret in text written by the backend, as
// is and URL-encoded (a logged form body holds "%2B" for a '+').
func (s *Session) redact(text string) string {
	if sec := s.site.Secret; len(sec) >= 8 {
		for _, f := range secretForms(sec) {
			text = strings.ReplaceAll(text, f, "[secret]")
		}
	}
	return text
}

// Close stops the backend (if the session started it), the in-process
// mock (if it started one) and the interception of the providers' real
// URLs. It is idempotent. The mock and the interception go first, so a
// backend stuck on a hung siteverify call is released and can exit.
func (s *Session) Close() error {
	var err error
	s.closeOnce.Do(func() {
		if s.ownMock != nil {
			s.ownMock.Close()
		}
		s.icpt.close()
		if p := s.backend(); p != nil {
			err = p.stop(s.deadline)
		}
		if s.transport != nil {
			s.transport.CloseIdleConnections()
		}
		s.mu.Lock()
		s.ended = time.Now()
		s.mu.Unlock()
	})
	return err
}

// RunCase runs the case with the given ID against every endpoint of the
// target and records its result. A case that does not apply to the target's
// kind is skipped. An unknown ID gives a failed result.
func (s *Session) RunCase(ctx context.Context, id string) Result {
	c, ok := Lookup(id)
	if !ok {
		return Result{ID: id, Status: StatusFailed, Counted: true, Actual: "no such case"}
	}
	start := time.Now()
	res := Result{ID: c.ID, Title: c.Title, Level: c.Level, Area: c.Area(), Requirement: c.Requirement,
		Reference: c.Reference, Started: start, Counted: c.Level == Must || s.cfg.Strict}
	switch {
	case !c.AppliesTo(s.target.Kind):
		res.Status, res.Reason = StatusSkipped, fmt.Sprintf("applies to %s, not %s", c.KindsString(), s.target.Kind)
	case !s.ensureUp(ctx, c.ID):
		res.Status, res.Counted, res.Actual = StatusError, true, "not run: "+s.downReason()
	default:
		mark := s.outputMark()
		settle := s.runEndpoints(ctx, c, &res)
		res.Duration = time.Since(start)
		if ctx.Err() == nil {
			if cr := s.checkCrash(ctx, settle); cr != nil {
				if settle == hangCloseSettle {
					cr.When = "once the harness closed the siteverify call the case left hanging"
				}
				s.recover(ctx, cr, "during "+c.ID)
				// A crash fails the run whatever the case's level.
				res.Status, res.Crash, res.Counted = StatusFailed, cr, true
				res.Actual = crashActual(cr, res.Actual)
				if res.Expected == "" {
					res.Expected = "the backend keeps running and answering"
				}
			}
		}
		res.Output = s.caseOutput(mark)
	}
	if res.Duration == 0 {
		res.Duration = time.Since(start)
	}
	s.mu.Lock()
	s.results = append(s.results, res)
	s.mu.Unlock()
	if s.cfg.OnResult != nil {
		s.cfg.OnResult(res)
	}
	return res
}

// ensureUp checks, before case id, that the backend is up, and restarts it
// if it went down since the last case; false means it is down for good.
func (s *Session) ensureUp(ctx context.Context, id string) bool {
	if s.downReason() != "" {
		return false
	}
	if status := s.downStatus(); status != "" && ctx.Err() == nil {
		s.recover(ctx, &Crash{Status: status}, "after the previous case ended, before "+id)
	}
	return s.downReason() == ""
}

// downReason says why cases are no longer run, "" while they are.
func (s *Session) downReason() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.down
}

// runEndpoints runs case c against every endpoint into res, and returns
// how long a backend that may be dying gets to finish exiting before the
// case is judged: crashSettle when a request lost its connection,
// hangCloseSettle when the case's held siteverify calls were closed at its
// end, 0 otherwise.
func (s *Session) runEndpoints(ctx context.Context, c Case, res *Result) (settle time.Duration) {
	multi := len(s.target.Endpoints) > 1
	var expected, actual, reasons []string
	failed, skipped := false, 0
	for i := range s.target.Endpoints {
		ep := &s.target.Endpoints[i]
		e := &Env{s: s, ep: ep, classify: s.target.EffectiveClassify(ep), kind: s.target.Kind}
		if j, err := s.mock.JournalSince(ctx, math.MaxUint64); err == nil {
			e.startSeq = j.LastSeq() // no entries cross the wire, just the sequence number
		}
		err := runGuarded(ctx, c, e)
		prefix := ""
		if multi {
			prefix = "[" + ep.Name + "] "
		}
		var f *Failure
		var sk *Skipped
		switch {
		case err == nil:
		case errors.As(err, &sk):
			skipped++
			reasons = append(reasons, prefix+sk.Reason)
		case errors.As(err, &f):
			failed = true
			expected = append(expected, prefix+f.Expected)
			actual = append(actual, prefix+f.Actual)
		default:
			failed = true
			res.HarnessError = true
			actual = append(actual, prefix+"harness error: "+err.Error())
		}
		for _, st := range e.steps {
			res.Steps = append(res.Steps, prefix+st)
		}
		res.Journal = append(res.Journal, e.excerpt(ctx)...)
		e.cleanup(ctx)
		if e.connLost {
			settle = max(settle, crashSettle)
		}
		if e.hangClosed {
			settle = max(settle, hangCloseSettle)
		}
		if ctx.Err() != nil {
			break
		}
	}
	switch {
	case failed:
		res.Status = StatusFailed
	case skipped == len(s.target.Endpoints):
		res.Status = StatusSkipped
	default:
		res.Status = StatusPassed
	}
	res.Expected = strings.Join(expected, "\n")
	res.Actual = strings.Join(actual, "\n")
	res.Reason = strings.Join(reasons, "\n")
	return settle
}

// runGuarded runs a case function, turning a panic into a harness error.
func runGuarded(ctx context.Context, c Case, e *Env) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("case %s panicked: %v", c.ID, v)
		}
	}()
	return c.Run(ctx, e)
}

// excerpt returns the journal entries of the case's tokens, and tokenless
// entries since it started.
func (e *Env) excerpt(ctx context.Context) []mockserver.Request {
	j, err := e.s.mock.JournalSince(ctx, e.startSeq)
	if err != nil {
		return nil
	}
	var out []mockserver.Request
	for _, r := range j.Since(e.startSeq) {
		if Tokenless(r.Token) || containsString(e.tokens, r.Token) {
			out = append(out, r)
		}
	}
	return out
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// cleanup deletes the case's rules. It uses its own short deadline, so a
// case cut short by its context still cleans up.
func (e *Env) cleanup(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, id := range e.rules {
		// A used-up rule is already gone; a hang rule never is (it matches
		// forever), and deleting it closes the calls it still holds.
		if err := e.s.mock.RemoveRule(ctx, id); err == nil && e.hangs[id] {
			e.hangClosed = true
		}
	}
	e.rules, e.hangs = nil, nil
}

// Results returns the results recorded so far, in the order the cases ran.
func (s *Session) Results() []Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Result(nil), s.results...)
}
