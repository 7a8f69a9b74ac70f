package mockserver

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The client scripts: the mock serves stand-ins for each provider's widget
// script (Google's https://www.google.com/recaptcha/api.js and enterprise.js,
// hCaptcha's https://js.hcaptcha.com/1/api.js, Cloudflare's
// https://challenges.cloudflare.com/turnstile/v0/api.js) whose tokens come
// from this server, so a real browser can run a page's whole token lifecycle
// offline. The browser package answers the page's requests for the real
// script URLs with these routes; a page can also load a script from the
// mock's URL directly.
//
//	GET     /recaptcha/api.js            the reCAPTCHA script (?render=, ?onload=, ?hl=)
//	GET     /recaptcha/enterprise.js     the same, as grecaptcha.enterprise.*
//	GET     /1/api.js                    the hCaptcha script (?render=, ?onload=, ?hl=, ?recaptchacompat=)
//	GET     /turnstile/v0/api.js         the Turnstile script (?render=, ?onload=)
//	POST    /recaptcha/api2/mint         mint a token for the page (CORS, form or JSON);
//	        /1/mint, /turnstile/v0/mint  the same for hCaptcha and Turnstile sites: the
//	                                     path decides the provider, under its script's host
//	GET     (the mint paths)             the same as JSONP (?callback=): for pages whose
//	                                     Content-Security-Policy blocks fetch to the provider
//	GET     /__admin/client-scores       scripted client scores
//	POST    /__admin/client-scores       add or replace one: {"action", "page", "score"}
//	DELETE  /__admin/client-scores       delete all, or one with ?action=&page=
//	GET     /__admin/mints               tokens minted for pages, oldest first
//	DELETE  /__admin/mints               forget them
//
// Expiry: each script starts the real widget's timer from the mint answer's
// expires_in_ms, but a test that advances the mock's clock cannot wait for
// it, and the page cannot see the mock's clock. So the scripts expose
// window.__siteverify.expire(mockNowMs): after Advance, a test (the browser
// package does this) calls it with the mock's new time, and every widget
// whose token ran out fires expired-callback and clears its response, as the
// real widget does when its timer fires.

// MaxMints is how many minted tokens the mint log keeps before it drops the
// oldest.
const MaxMints = 1000

// MaxClientScores bounds the scripted client scores.
const MaxClientScores = 1000

//go:embed clientjs/common.js
var commonJS string

//go:embed clientjs/api.js
var clientJS string

//go:embed clientjs/hcaptcha.js
var hcaptchaJS string

//go:embed clientjs/turnstile.js
var turnstileJS string

// The stand-ins' script and mint paths for hCaptcha and Turnstile, each
// under the host of the provider's real script so that the browser
// package's interception of that host reaches them.
const (
	// HCaptchaScriptPath serves the stand-in for https://js.hcaptcha.com/1/api.js.
	HCaptchaScriptPath = "/1/api.js"
	// HCaptchaMintPath is where the hCaptcha stand-in asks for tokens.
	HCaptchaMintPath = "/1/mint"
	// TurnstileScriptPath serves the stand-in for
	// https://challenges.cloudflare.com/turnstile/v0/api.js.
	TurnstileScriptPath = "/turnstile/v0/api.js"
	// TurnstileMintPath is where the Turnstile stand-in asks for tokens.
	TurnstileMintPath = "/turnstile/v0/mint"
)

// clientScriptOf is a provider's client-script stand-in: its source and the
// path it mints at.
func clientScriptOf(p *Provider) (src, mintPath string) {
	switch p {
	case HCaptcha:
		return hcaptchaJS, HCaptchaMintPath
	case Turnstile:
		return turnstileJS, TurnstileMintPath
	}
	return clientJS, MintPath
}

// scriptProvider is the provider whose client script path is.
func scriptProvider(path string) *Provider {
	for _, p := range Providers() {
		if slices.Contains(p.scriptPaths, path) {
			return p
		}
	}
	return ReCAPTCHA
}

// clientConfigMarker is replaced by the script's configuration when served.
const clientConfigMarker = "/*SITEVERIFY_CONFIG*/{}"

// ClientScore scripts the v3 score of tokens the client script mints: for
// one action, one page (location.pathname), or both. The most specific
// matching entry wins: action and page, then page, then action. Tokens that
// match none get DefaultScore.
type ClientScore struct {
	// Action matches the action passed to grecaptcha.execute exactly; empty
	// matches any action.
	Action string `json:"action,omitempty"`
	// Page matches the page's path (location.pathname, e.g. "/login")
	// exactly; empty matches any page.
	Page string `json:"page,omitempty"`
	// Score follows TokenSpec.Score: a value in [0, 1], where 0 means
	// DefaultScore and ExactlyZero means 0.0. In JSON, 0 is 0.0.
	Score float64 `json:"score,omitempty"`
}

type clientScoreJSON struct {
	Action string   `json:"action,omitempty"`
	Page   string   `json:"page,omitempty"`
	Score  *float64 `json:"score,omitempty"`
}

// MarshalJSON writes an explicit zero score as 0 and the default as absent.
func (c ClientScore) MarshalJSON() ([]byte, error) {
	w := clientScoreJSON{Action: c.Action, Page: c.Page}
	switch c.Score {
	case 0:
	case ExactlyZero:
		zero := 0.0
		w.Score = &zero
	default:
		score := c.Score
		w.Score = &score
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads the JSON form strictly; 0 means 0.0.
func (c *ClientScore) UnmarshalJSON(b []byte) error {
	var w clientScoreJSON
	if err := strictUnmarshal(b, &w); err != nil {
		return err
	}
	out := ClientScore{Action: w.Action, Page: w.Page}
	if w.Score != nil {
		out.Score = *w.Score
		if out.Score == 0 {
			out.Score = ExactlyZero
		}
	}
	*c = out
	return nil
}

func (c ClientScore) validate() error {
	if _, err := scoreToMilli(c.Score); err != nil {
		return fmt.Errorf("client score: %w", err)
	}
	if len(c.Action) > 256 || len(c.Page) > 2048 {
		return fmt.Errorf("client score: action (256) or page (2048) too long")
	}
	return nil
}

// specificity ranks a matching entry: page and action beat page beat action.
func (c ClientScore) specificity() int {
	n := 0
	if c.Page != "" {
		n += 2
	}
	if c.Action != "" {
		n++
	}
	return n
}

// Mint is one token the client script asked for, as recorded by the mock:
// what the page asked with and what it got.
type Mint struct {
	// Seq numbers mints from 1 in order; it survives drops.
	Seq uint64 `json:"seq"`
	// Time is when the token was minted, on the mock's clock.
	Time time.Time `json:"time"`
	// Provider is the provider whose script asked (its Name): "recaptcha",
	// "hcaptcha" or "turnstile".
	Provider string `json:"provider"`
	// SiteKey is the sitekey the page used.
	SiteKey string `json:"sitekey"`
	// Kind is the kind of the minted token (the site's kind); empty when
	// minting failed.
	Kind KeyKind `json:"kind,omitempty"`
	// Requested is the widget type the script asked for. reCAPTCHA: "v3"
	// (execute(sitekey, ...)), "v2-checkbox", or "invisible" (an invisible
	// widget or a bound button, which takes a v3 or a v2 invisible key).
	// hCaptcha: "checkbox" or "invisible". Turnstile: "managed" or
	// "invisible". The widget type decides nothing for hCaptcha and
	// Turnstile, whose sitekeys serve every widget.
	Requested string `json:"requested,omitempty"`
	// Widget is the script's widget id (100000 for the v3 badge).
	Widget string `json:"widget,omitempty"`
	// Action is the action the page executed with (reCAPTCHA v3 and
	// Turnstile; also recorded for other kinds when the page passed one).
	Action string `json:"action,omitempty"`
	// CData is the customer data a Turnstile widget passed (cData,
	// data-cdata), which its token carries.
	CData string `json:"cdata,omitempty"`
	// Hostname is the page's location.hostname, which the token carries.
	Hostname string `json:"hostname,omitempty"`
	// Page is the page's location.pathname.
	Page string `json:"page,omitempty"`
	// Origin is the Origin header of the mint request.
	Origin string `json:"origin,omitempty"`
	// Enterprise is true when the page loaded enterprise.js.
	Enterprise bool `json:"enterprise,omitempty"`
	// Score is the score the token carries (reCAPTCHA v3 only).
	Score *float64 `json:"score,omitempty"`
	// Test is true when the sitekey is one of the provider's official test
	// sitekeys, whose widgets emit the provider's fixed test token (hCaptcha's
	// 10000000-aaaa-bbbb-cccc-000000000001, Turnstile's
	// XXXX.DUMMY.TOKEN.XXXX) or fail (Turnstile's 2x sitekeys).
	Test bool `json:"test,omitempty"`
	// Token is the minted token; ExpiresAt is when it stops verifying, on the
	// mock's clock.
	Token     string    `json:"token,omitempty"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// Error says why no token was minted (the script surfaces it through
	// error-callback or a rejected promise).
	Error string `json:"error,omitempty"`
}

// clientState is the client script's part of a Server: scripted scores and
// the mint log. The zero value is ready to use.
type clientState struct {
	mu      sync.Mutex
	scores  []ClientScore
	mints   []Mint // ring of MaxMints, oldest at start once full
	next    int
	full    bool
	seq     uint64
	dropped uint64
}

func (cs *clientState) reset() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.scores = nil
	cs.mints, cs.next, cs.full, cs.dropped = nil, 0, false, 0
}

func (cs *clientState) setScore(c ClientScore) error {
	if err := c.validate(); err != nil {
		return err
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for i, old := range cs.scores {
		if old.Action == c.Action && old.Page == c.Page {
			cs.scores[i] = c
			return nil
		}
	}
	if len(cs.scores) >= MaxClientScores {
		return fmt.Errorf("too many client scores (%d)", MaxClientScores)
	}
	cs.scores = append(cs.scores, c)
	return nil
}

func (cs *clientState) removeScore(action, page string) bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for i, old := range cs.scores {
		if old.Action == action && old.Page == page {
			cs.scores = append(cs.scores[:i], cs.scores[i+1:]...)
			return true
		}
	}
	return false
}

func (cs *clientState) scoreFor(action, page string) float64 {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	best, rank := 0.0, -1
	for _, c := range cs.scores {
		if (c.Action != "" && c.Action != action) || (c.Page != "" && c.Page != page) {
			continue
		}
		if r := c.specificity(); r > rank {
			best, rank = c.Score, r
		}
	}
	return best // 0 means DefaultScore
}

func (cs *clientState) record(m Mint) Mint {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.seq++
	m.Seq = cs.seq
	if cs.mints == nil {
		cs.mints = make([]Mint, 0, 16)
	}
	if len(cs.mints) < MaxMints {
		cs.mints = append(cs.mints, m)
		return m
	}
	cs.full = true
	cs.dropped++
	cs.mints[cs.next] = m
	cs.next = (cs.next + 1) % MaxMints
	return m
}

func (cs *clientState) snapshot() []Mint {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	out := make([]Mint, 0, len(cs.mints))
	if cs.full {
		out = append(out, cs.mints[cs.next:]...)
		out = append(out, cs.mints[:cs.next]...)
		return out
	}
	return append(out, cs.mints...)
}

// SetClientScore scripts the score of tokens the client script mints for an
// action and/or a page; an entry with the same action and page is replaced.
func (s *Server) SetClientScore(_ context.Context, c ClientScore) error {
	return s.client.setScore(c)
}

// RemoveClientScore deletes the entry for exactly this action and page; it
// is an error if there is none.
func (s *Server) RemoveClientScore(_ context.Context, action, page string) error {
	if !s.client.removeScore(action, page) {
		return fmt.Errorf("no client score for action %q and page %q", action, page)
	}
	return nil
}

// ClearClientScores deletes every scripted client score.
func (s *Server) ClearClientScores(context.Context) error {
	s.client.mu.Lock()
	s.client.scores = nil
	s.client.mu.Unlock()
	return nil
}

// ClientScores lists the scripted client scores.
func (s *Server) ClientScores() []ClientScore {
	s.client.mu.Lock()
	defer s.client.mu.Unlock()
	return append([]ClientScore(nil), s.client.scores...)
}

// Mints returns the tokens minted for pages through the client script,
// oldest first (at most MaxMints).
func (s *Server) Mints(context.Context) ([]Mint, error) { return s.client.snapshot(), nil }

// ClearMints empties the mint log.
func (s *Server) ClearMints(context.Context) error {
	s.client.mu.Lock()
	s.client.mints, s.client.next, s.client.full, s.client.dropped = nil, 0, false, 0
	s.client.mu.Unlock()
	return nil
}

// ClientMock is a Mock that also serves the client script: what the browser
// package needs. *Server implements it in-process and *Client over the admin
// API.
type ClientMock interface {
	Mock
	// SetClientScore scripts a client score (see Server.SetClientScore).
	SetClientScore(ctx context.Context, c ClientScore) error
	// RemoveClientScore removes the entry for exactly this action and page.
	RemoveClientScore(ctx context.Context, action, page string) error
	// ClearClientScores removes every scripted client score.
	ClearClientScores(ctx context.Context) error
	// Mints returns the tokens minted for pages, oldest first.
	Mints(ctx context.Context) ([]Mint, error)
	// ClearMints empties the mint log.
	ClearMints(ctx context.Context) error
}

var (
	_ ClientMock = (*Server)(nil)
	_ ClientMock = (*Client)(nil)
)

// SetClientScore implements ClientMock.
func (c *Client) SetClientScore(ctx context.Context, cs ClientScore) error {
	return c.do(ctx, http.MethodPost, "client-scores", cs, nil)
}

// RemoveClientScore implements ClientMock.
func (c *Client) RemoveClientScore(ctx context.Context, action, page string) error {
	q := url.Values{"action": {action}, "page": {page}}
	return c.do(ctx, http.MethodDelete, "client-scores?"+q.Encode(), nil, nil)
}

// ClearClientScores implements ClientMock.
func (c *Client) ClearClientScores(ctx context.Context) error {
	return c.do(ctx, http.MethodDelete, "client-scores", nil, nil)
}

// Mints implements ClientMock.
func (c *Client) Mints(ctx context.Context) ([]Mint, error) {
	var out struct {
		Mints []Mint `json:"mints"`
	}
	err := c.do(ctx, http.MethodGet, "mints", nil, &out)
	return out.Mints, err
}

// ClearMints implements ClientMock.
func (c *Client) ClearMints(ctx context.Context) error {
	return c.do(ctx, http.MethodDelete, "mints", nil, nil)
}

// clientRoutes registers the client script, the mint endpoint and their
// admin endpoints.
func (s *Server) clientRoutes(mux *http.ServeMux) {
	for _, p := range Providers() {
		if len(p.scriptPaths) == 0 {
			continue // Enterprise's tokens come from the reCAPTCHA script's enterprise.js
		}
		for _, path := range p.scriptPaths {
			mux.HandleFunc("GET "+path, s.serveClientScript)
		}
		_, mintPath := clientScriptOf(p)
		mux.HandleFunc(mintPath, func(w http.ResponseWriter, r *http.Request) { s.serveMint(w, r, p) })
	}
	admin := func(h http.HandlerFunc) http.Handler { return s.requireAdminToken(h) }
	mux.Handle("GET /__admin/client-scores", admin(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"client_scores": s.ClientScores()})
	}))
	mux.Handle("POST /__admin/client-scores", admin(func(w http.ResponseWriter, r *http.Request) {
		var c ClientScore
		if !readJSON(w, r, &c) {
			return
		}
		if err := s.client.setScore(c); err != nil {
			adminError(w, http.StatusBadRequest, "%v", err)
			return
		}
		writeJSON(w, http.StatusCreated, c)
	}))
	mux.Handle("DELETE /__admin/client-scores", admin(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Has("action") || q.Has("page") {
			if err := s.RemoveClientScore(r.Context(), q.Get("action"), q.Get("page")); err != nil {
				adminError(w, http.StatusNotFound, "%v", err)
				return
			}
		} else {
			_ = s.ClearClientScores(r.Context())
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	mux.Handle("GET /__admin/mints", admin(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"mints": s.client.snapshot()})
	}))
	mux.Handle("DELETE /__admin/mints", admin(func(w http.ResponseWriter, r *http.Request) {
		_ = s.ClearMints(r.Context())
		w.WriteHeader(http.StatusNoContent)
	}))
}

// ClientScript returns the client script as served for path (one of a
// provider's ScriptPaths: ScriptPath, EnterpriseScriptPath,
// HCaptchaScriptPath, TurnstileScriptPath) and query (e.g.
// "render=SITEKEY"), for a page whose script URL has the given origin (e.g.
// "https://www.google.com"), without any key types (a server's route adds
// those of its sites). The browser package uses it to check what it serves;
// most callers want the HTTP route.
func ClientScript(path, rawQuery, origin string) []byte {
	return clientScript(path, rawQuery, origin, nil)
}

// clientScript is ClientScript with the key type of each sitekey the script
// should know (see keyKinds), so it renders the widget Google would.
func clientScript(path, rawQuery, origin string, keys map[string]string) []byte {
	q, _ := url.ParseQuery(rawQuery)
	p := scriptProvider(path)
	src, mintPath := clientScriptOf(p)
	cfg := map[string]any{
		"enterprise": path == EnterpriseScriptPath,
		"origin":     origin,
		"render":     q.Get("render"),
		"onload":     q.Get("onload"),
		"hl":         q.Get("hl"),
		"version":    "siteverify-mock-1",
		"keys":       keys,
	}
	if p != ReCAPTCHA {
		// The reCAPTCHA script's configuration stays as it was; the others
		// are told their mint path and their own query parameters.
		delete(cfg, "enterprise")
		delete(cfg, "keys")
		cfg["provider"] = p.name
		cfg["mintPath"] = mintPath
		cfg["lifetimeMs"] = p.tokenLifetime.Milliseconds()
		switch p {
		case HCaptcha:
			cfg["recaptchacompat"] = q.Get("recaptchacompat")
		case Turnstile:
			cfg["compat"] = q.Get("compat")
		}
	}
	b, _ := json.Marshal(cfg) // json.Marshal escapes <, > and &, so this is safe inside JS
	// The shared part and the provider's, in one function: nothing of the
	// shared part becomes a global of the page.
	return []byte("(function () {\n" + commonJS + "\n" + strings.Replace(src, clientConfigMarker, string(b), 1) + "})();\n")
}

// keyKinds maps every registered sitekey to its key type, as the client
// script decides widgets by it: "any" for a key that takes any token
// (Google's test key works in both v2 widgets). Sites are bounded by
// maxSites, so the map is too.
func (s *Server) keyKinds() map[string]string {
	sites := s.Sites()
	out := make(map[string]string, len(sites))
	for _, site := range sites {
		k := string(site.Kind)
		switch site.Kind { // the script renders an Enterprise key as its reCAPTCHA twin
		case EnterpriseScore:
			k = string(V3)
		case EnterpriseCheckbox:
			k = string(V2Checkbox)
		}
		if site.AcceptAnyToken {
			k = "any"
		}
		out[site.SiteKey] = k
	}
	return out
}

// requestOrigin is the scheme and host the page used to reach the mock:
// X-Forwarded-Proto and X-Forwarded-Host when a proxy (the browser package's
// interception) set them, else the request's own.
func requestOrigin(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "http" || p == "https" {
		scheme = p
	}
	host := r.Host
	if h := r.Header.Get("X-Forwarded-Host"); h != "" && !strings.ContainsAny(h, "/\\ \"'<>") {
		host = h
	}
	return scheme + "://" + host
}

func (s *Server) serveClientScript(w http.ResponseWriter, r *http.Request) {
	var keys map[string]string
	if scriptProvider(r.URL.Path) == ReCAPTCHA {
		keys = s.keyKinds()
	}
	body := clientScript(r.URL.Path, r.URL.RawQuery, requestOrigin(r), keys)
	h := w.Header()
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	h.Set("Cache-Control", "no-cache, no-store, max-age=0")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// mintRequest is what a client script sends to its provider's mint path.
type mintRequest struct {
	SiteKey    string `json:"sitekey"`
	Kind       string `json:"kind"`
	Action     string `json:"action"`
	CData      string `json:"cdata"`
	Hostname   string `json:"hostname"`
	Page       string `json:"page"`
	Widget     string `json:"widget"`
	Enterprise bool   `json:"enterprise"`
}

// Mint error codes, as the client script reports them.
const (
	mintMissingSitekey = "missing-sitekey"
	mintInvalidSitekey = "invalid-sitekey"
	mintInvalidKeyType = "invalid-key-type"
	mintBadRequest     = "bad-request"
)

type mintError struct {
	status  int
	code    string
	message string
}

func (e *mintError) Error() string { return e.message }

// serveMint answers a mint request of p's client script.
func (s *Server) serveMint(w http.ResponseWriter, r *http.Request, p *Provider) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Cache-Control", "no-store")
	var req mintRequest
	var err error
	callback := ""
	switch r.Method {
	case http.MethodOptions:
		h.Set("Access-Control-Allow-Methods", "POST")
		h.Set("Access-Control-Allow-Headers", "Content-Type")
		h.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return
	case http.MethodPost:
		req, err = parseMintRequest(r)
	case http.MethodGet:
		q := r.URL.Query()
		if callback = q.Get("callback"); !jsonpName.MatchString(callback) {
			mintAnswer(w, http.StatusBadRequest, map[string]string{"error": "GET needs callback=<JavaScript function name> (JSONP); or POST the form", "code": mintBadRequest})
			return
		}
		req = mintRequestFrom(q)
	default:
		h.Set("Allow", "GET, POST, OPTIONS")
		mintAnswer(w, http.StatusMethodNotAllowed, map[string]string{"error": "method not allowed", "code": mintBadRequest})
		return
	}
	reply := func(status int, v any) {
		if callback == "" {
			mintAnswer(w, status, v)
			return
		}
		// JSONP: always 200, or the browser would not run the script; the
		// error is in the object.
		b, _ := json.Marshal(v)
		h.Set("Content-Type", "text/javascript; charset=utf-8")
		h.Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(callback + "(" + string(b) + ");\n"))
	}
	if err != nil {
		reply(http.StatusBadRequest, map[string]string{"error": err.Error(), "code": mintBadRequest})
		return
	}
	m, merr := s.mintForPage(p, req, r.Header.Get("Origin"))
	if merr != nil {
		reply(merr.status, map[string]string{"error": merr.message, "code": merr.code})
		return
	}
	now := s.clock.now()
	reply(http.StatusOK, map[string]any{
		"token":         m.Token,
		"expires_at":    m.ExpiresAt.UTC().Format(time.RFC3339Nano),
		"expires_at_ms": m.ExpiresAt.UnixMilli(),
		"now_ms":        now.UnixMilli(),
		"expires_in_ms": max(0, m.ExpiresAt.UnixMilli()-now.UnixMilli()),
	})
}

// jsonpName is what a JSONP callback may be: a dotted JavaScript name.
var jsonpName = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*(\.[A-Za-z_$][A-Za-z0-9_$]*){0,4}$`)

func mintAnswer(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

const maxMintBody = 16 << 10

func parseMintRequest(r *http.Request) (mintRequest, error) {
	var req mintRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, maxMintBody+1))
	if err != nil {
		return req, fmt.Errorf("read body: %w", err)
	}
	if len(body) > maxMintBody {
		return req, fmt.Errorf("body larger than %d bytes", maxMintBody)
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "application/json" {
		if err := json.Unmarshal(body, &req); err != nil {
			return req, describeJSONError(err)
		}
	} else {
		f, err := url.ParseQuery(string(body))
		if err != nil {
			return req, fmt.Errorf("form body: %w", err)
		}
		req = mintRequestFrom(f)
	}
	return req, nil
}

func mintRequestFrom(f url.Values) mintRequest {
	return mintRequest{SiteKey: f.Get("sitekey"), Kind: f.Get("kind"), Action: f.Get("action"), CData: f.Get("cdata"),
		Hostname: f.Get("hostname"), Page: f.Get("page"), Widget: f.Get("widget"),
		Enterprise: f.Get("enterprise") == "1" || f.Get("enterprise") == "true"}
}

// kindAllowed reports whether a widget of the requested type can use a key
// of kind k. Google refuses a key of the wrong type ("ERROR for site owner:
// Invalid key type", wire-facts §1.8).
func kindAllowed(requested string, site Site) bool {
	k := site.Kind
	switch k { // Enterprise keys take the widgets of their reCAPTCHA twins
	case EnterpriseScore:
		k = V3
	case EnterpriseCheckbox:
		k = V2Checkbox
	}
	if site.AcceptAnyToken { // Google's v2 test key works for both v2 widgets
		return requested == "" || requested == string(V2Checkbox) || requested == string(V2Invisible) || requested == "invisible"
	}
	switch requested {
	case "":
		return k != Android
	case "invisible":
		return k == V3 || k == V2Invisible
	default:
		return requested == string(k)
	}
}

// clientTestKeys are the providers' official test sitekeys as their widgets
// behave: each emits a fixed test token that the provider's siteverify
// answers as documented (the secrets decide, see the provider's
// testVerdict), or, for Turnstile's "always fails" sitekeys, no token at all
// (wire-facts §3.5, §4.5). None of them is a registered site.
var clientTestKeys = map[string]struct {
	provider *Provider
	kind     KeyKind
	token    string // "" when the widget fails
}{
	HCaptchaTestSiteKey:               {HCaptcha, HCaptchaPublisher, HCaptchaTestToken},
	HCaptchaEnterpriseSafeSiteKey:     {HCaptcha, HCaptchaEnterprise, HCaptchaEnterpriseSafeToken},
	HCaptchaEnterpriseBotSiteKey:      {HCaptcha, HCaptchaEnterprise, HCaptchaEnterpriseBotToken},
	TurnstileTestSiteKeyPass:          {Turnstile, TurnstileStandard, TurnstileDummyToken},
	TurnstileTestSiteKeyInvisible:     {Turnstile, TurnstileStandard, TurnstileDummyToken},
	TurnstileTestSiteKeyChallenge:     {Turnstile, TurnstileStandard, TurnstileDummyToken},
	TurnstileTestSiteKeyFail:          {Turnstile, TurnstileStandard, ""},
	turnstileTestSiteKeyFailInvisible: {Turnstile, TurnstileStandard, ""},
}

// turnstileTestSiteKeyFailInvisible is Turnstile's invisible "always fails"
// test sitekey (§4.5); its siteverify side needs nothing, as its widget
// emits no token.
const turnstileTestSiteKeyFailInvisible = "2x00000000000000000000BB"

// mintTestFailed is the mint error code of a Turnstile "always fails" test
// sitekey.
const mintTestFailed = "test-key-fails"

// mintForPage mints a token of provider p for a page and records it in the
// mint log.
func (s *Server) mintForPage(p *Provider, req mintRequest, origin string) (Mint, *mintError) {
	// The mint log records through the journal's redactor: a secret pasted
	// where the sitekey belongs (a common slip) is fingerprinted, and what is
	// kept is cut and copied, never a substring of the request.
	rd := s.newRedactor("", "")
	m := Mint{
		Time: s.clock.now(), Provider: p.name, SiteKey: rd.value(req.SiteKey, 256), Requested: rd.value(req.Kind, 32),
		Widget: rd.value(req.Widget, 16), Action: rd.value(req.Action, 256), CData: rd.value(req.CData, 256),
		Hostname: rd.value(req.Hostname, 255), Page: rd.value(req.Page, 2048), Origin: rd.value(origin, 512),
		Enterprise: req.Enterprise && p == ReCAPTCHA,
	}
	if m.Hostname == "" && origin != "" {
		if u, err := url.Parse(origin); err == nil {
			m.Hostname = rd.value(u.Hostname(), 255)
		}
	}
	fail := func(status int, code, msg string) (Mint, *mintError) {
		m.Error = code + ": " + msg
		s.client.record(m)
		return m, &mintError{status: status, code: code, message: msg}
	}
	if req.SiteKey == "" {
		return fail(http.StatusBadRequest, mintMissingSitekey, "Missing required parameters: sitekey")
	}
	if tk, ok := clientTestKeys[req.SiteKey]; ok && tk.provider == p {
		m.Test, m.Kind = true, tk.kind
		if tk.token == "" {
			return fail(http.StatusBadRequest, mintTestFailed, "the test sitekey "+req.SiteKey+" always fails, as "+p.title+" documents")
		}
		m.Token = tk.token
		m.ExpiresAt = m.Time.Add(p.tokenLifetime)
		return s.client.record(m), nil
	}
	s.mu.RLock()
	site, ok := s.bySiteKey[req.SiteKey]
	s.mu.RUnlock()
	if ok && p == ReCAPTCHA && req.Enterprise && site.Kind.Provider() == Enterprise {
		// enterprise.js mints for reCAPTCHA Enterprise keys (and, as
		// before, for the others of its script).
		p = Enterprise
		m.Provider = p.name
	}
	if ok && site.Kind.Provider() != p {
		// The provider's script does not know another provider's sitekey.
		return fail(http.StatusBadRequest, mintInvalidSitekey, fmt.Sprintf("Invalid site key %q: it is a %s sitekey, and the page loaded the %s script", abbreviate(m.SiteKey), site.Kind.Provider().title, p.title))
	}
	if !ok {
		if fp, secret := rd.secretFingerprint(req.SiteKey); secret {
			return fail(http.StatusBadRequest, mintInvalidSitekey, "Invalid site key: the page sent a secret key ("+fp+") as its sitekey; pages use the public sitekey, only the backend knows the secret")
		}
		return fail(http.StatusBadRequest, mintInvalidSitekey, fmt.Sprintf("Invalid site key %q: no site with this sitekey is registered with the mock", abbreviate(m.SiteKey)))
	}
	if (p == ReCAPTCHA || p == Enterprise) && !kindAllowed(req.Kind, site) {
		return fail(http.StatusBadRequest, mintInvalidKeyType, fmt.Sprintf("Invalid key type: a %s widget cannot use the %s key %s", orAny(m.Requested), site.Kind, abbreviate(site.SiteKey)))
	}
	spec := TokenSpec{SiteKey: site.SiteKey, Kind: site.Kind, Hostname: m.Hostname}
	switch site.Kind {
	case V3, EnterpriseScore, EnterpriseCheckbox:
		spec.Action = req.Action
		spec.Score = s.client.scoreFor(req.Action, req.Page)
	case TurnstileStandard:
		// The widget's action and cData are minted into the token, which
		// siteverify answers (§4.3, §5.3); the widget itself refuses values
		// outside Turnstile's limits, so these are checked here too.
		if !turnstileDataOK(req.Action, 32) || !turnstileDataOK(req.CData, 255) {
			return fail(http.StatusBadRequest, mintBadRequest, "action (at most 32) and cdata (at most 255) take only the characters A-Za-z0-9_-")
		}
		spec.Action, spec.CData = req.Action, req.CData
	}
	c, _, err := s.buildClaims(spec)
	if err != nil {
		return fail(http.StatusBadRequest, mintBadRequest, err.Error())
	}
	tok, err := s.codec.encode(c)
	if err != nil {
		return fail(http.StatusBadRequest, mintBadRequest, err.Error())
	}
	m.Kind, m.Token, m.ExpiresAt, m.Time = c.kind, tok, c.expiresAt(), c.issuedAt
	if c.kind == V3 || c.kind.Provider() == Enterprise {
		m.Action = rd.value(c.action, 256)
		score := c.score()
		m.Score = &score
	}
	m = s.client.record(m)
	return m, nil
}

// turnstileDataOK reports whether s fits Turnstile's rule for action and
// cData: at most limit characters of A-Za-z0-9_- (§4.3).
func turnstileDataOK(s string, limit int) bool {
	if len(s) > limit {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func orAny(kind string) string {
	if kind == "" {
		return "reCAPTCHA"
	}
	return kind
}
