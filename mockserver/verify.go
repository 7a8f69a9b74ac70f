package mockserver

import (
	"bytes"
	"crypto/rand"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxBodyBytes bounds a siteverify request body. Real requests are well
// under 5 KiB (a token is at most a few thousand characters).
const maxBodyBytes = 64 << 10

func randRead(b []byte) (int, error) { return rand.Read(b) }

func (s *Server) routes(extra map[string]http.Handler) http.Handler {
	mux := http.NewServeMux()
	for _, p := range Providers() {
		routes := p.routes
		if routes == nil {
			routes = []string{p.verifyPath}
		}
		for _, pattern := range routes {
			mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) { s.serveVerify(p, w, r) })
		}
	}
	s.enterpriseRoutes(mux)
	mux.Handle(AdminPrefix, s.adminHandler())
	s.clientRoutes(mux) // client script, mint endpoint and their admin routes; see clientscript.go
	for pattern, h := range extra {
		mux.Handle(pattern, h)
	}
	return mux
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// verifyRequest is a parsed siteverify request, the same for every
// provider.
type verifyRequest struct {
	secret, token, remoteIP string
	siteKey                 string // hCaptcha's optional sitekey
	idempotencyKey          string // Turnstile's optional idempotency_key
	enterprise              *enterpriseRequest
	secretIn                string
	query, form             url.Values
	badRequest              bool
}

// serveVerify answers a siteverify request on provider p's path.
func (s *Server) serveVerify(p *Provider, w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	vr := p.wire.parse(r)
	reg := s.lookup(vr.secret, vr.token)
	// Everything the entry keeps goes through one redactor: secrets become
	// fingerprints, the rest is cut and copied (see redactor).
	rd := s.newRedactor(vr.secret, reg.fingerprint)
	entry := Request{
		Time:        s.clock.now(),
		Method:      http.MethodPost,
		Path:        p.verifyPath,
		ContentType: recordContentType(r.Header.Get("Content-Type")),
		SecretIn:    vr.secretIn,
		Token:       rd.remember(0, vr.token, MaxTokenLength),
		RemoteIP:    rd.remember(1, vr.remoteIP, journalMaxFieldBytes),
		Peer:        r.RemoteAddr,
	}
	if r.Method == http.MethodGet {
		entry.Method = http.MethodGet // constants, not r.Method: that pins the request line
	}
	if r.URL.Path != p.verifyPath {
		entry.Path = keep(r.URL.Path, journalMaxFieldBytes)
	}
	if vr.secret != "" {
		entry.SecretSite = reg.site.SiteKey
		entry.SecretFingerprint = rd.ownFP // cached for a registered secret, computed for another
	}
	entry.Query, entry.Form = rd.params(vr.query, vr.form)
	defer func() {
		entry.Duration = time.Since(start)
		s.journal.add(entry)
		if !s.logger.Enabled(r.Context(), slog.LevelDebug) {
			return // the arguments below cost allocations even when discarded
		}
		s.logger.Debug("siteverify", "method", entry.Method, "secret", entry.SecretFingerprint,
			"site", abbreviate(entry.SecretSite), "token", abbreviate(entry.Token), "outcome", entry.Outcome,
			"status", entry.Status, "duration", entry.Duration)
	}()

	if s.rules.count.Load() > 0 {
		if rule, deleted, ok := s.rules.take(vr.token, vr.secret, vr.remoteIP); ok {
			entry.Rule = keep(rule.ID, journalMaxRuleIDBytes)
			entry.Outcome = truncate("rule "+entry.Rule+": "+rule.describe(), journalMaxOutcomeBytes)
			if rule.Spend && !vr.badRequest && p.wire.methodStatus(r.Method) == http.StatusOK {
				v := s.verify(p, &vr, reg)
				entry.Outcome = truncate(entry.Outcome+" (verified: "+outcomeName(&v, p.wire)+")", journalMaxOutcomeBytes)
			}
			handled := s.applyRule(p, w, r, &vr, rule, deleted, &entry)
			if handled {
				return
			}
		}
	}

	var v verdict
	status := p.wire.methodStatus(r.Method)
	if vr.badRequest || status != http.StatusOK {
		// Google documents bad-request without saying when it is sent; a body
		// over 64 KiB or broken percent-encoding is our choice of trigger.
		v.outcome = outcomeBadRequest
	} else {
		v = s.verify(p, &vr, reg)
	}
	v.request = &vr
	if sd, ok := p.wire.(statusDialect); ok && status == http.StatusOK {
		status = sd.answerStatus(&v)
	}
	bp := bufPool.Get().(*[]byte)
	body := p.wire.appendAnswer((*bp)[:0], &v)
	if status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", http.MethodPost)
	}
	s.writeAnswer(p, w, status, p.wire.contentType(), body)
	if entry.Rule == "" {
		entry.Outcome = outcomeName(&v, p.wire)
	} else {
		entry.Outcome = truncate(entry.Outcome+", then "+outcomeName(&v, p.wire), journalMaxOutcomeBytes)
	}
	entry.Status = status
	entry.Response = truncate(string(body), journalMaxResponseBytes) // string(body) is already a copy
	*bp = body
	bufPool.Put(bp)
}

func outcomeName(v *verdict, d dialect) string {
	switch {
	case v.outcome == outcomeSuccess && v.retry:
		return "success (idempotent retry)"
	case v.outcome == outcomeSuccess && v.test:
		return "success (test key)"
	}
	switch v.outcome {
	case outcomeSuccess:
		return "success"
	case outcomeExpired:
		return "expired"
	case outcomeDuplicate:
		return "duplicate"
	}
	return strings.Join(d.errorCodes(v), ",")
}

const jsonContentType = "application/json; charset=utf-8"

// Header values shared by every answer; net/http only reads them.
var (
	hdrJSON         = []string{jsonContentType}
	hdrCacheControl = []string{"private, max-age=0"}
	hdrNoSniff      = []string{"nosniff"}
	hdrXSS          = []string{"1; mode=block"}
	hdrServerGSE    = []string{"GSE"}
)

// writeAnswer sends a body with the headers the provider's front end sends
// (for Google, wire-facts §1.2, 2016 cassette).
func (s *Server) writeAnswer(p *Provider, w http.ResponseWriter, status int, contentType string, body []byte) {
	h := w.Header()
	// Canonical keys and shared value slices: no canonicalising and no
	// allocation per answer.
	if contentType == jsonContentType {
		h["Content-Type"] = hdrJSON
	} else {
		h["Content-Type"] = []string{contentType}
	}
	h["Cache-Control"] = hdrCacheControl
	h["X-Content-Type-Options"] = hdrNoSniff
	h["X-Xss-Protection"] = hdrXSS
	if sv := p.wire.serverHeader(); sv == "GSE" {
		h["Server"] = hdrServerGSE
	} else {
		h["Server"] = []string{sv}
	}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// registration is what the site tables say about a request's secret and
// token, read once per request under the lock.
type registration struct {
	known       bool   // the secret belongs to a registered site
	site        Site   // that site
	fingerprint string // Fingerprint of the secret, if known
	named       *namedState
}

func (s *Server) lookup(secret, token string) registration {
	if secret == "" {
		return registration{}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	site, ok := s.bySecret[secret]
	reg := registration{known: ok, site: site, fingerprint: s.fpBySecret[secret]}
	if ok && !site.AcceptAnyToken {
		reg.named = s.named[token]
	}
	return reg
}

// verify decides a well-formed request to provider p. Checks run in this
// order: missing parameters, the provider's test keys, the token's form
// (before the secret, for hCaptcha), unknown secret, a test site, named
// tokens, token signature and site binding, the provider's own parameter
// checks, age and single use.
func (s *Server) verify(p *Provider, vr *verifyRequest, reg registration) verdict {
	secret, token := vr.secret, vr.token
	now := s.clock.now()
	if vr.enterprise != nil {
		if v, decided := s.enterpriseAuth(vr, reg); decided {
			return v
		}
	}
	if token == "" || secret == "" {
		return verdict{outcome: outcomeMissing, missingResponse: token == "", missingSecret: secret == ""}
	}
	if v, ok := p.wire.testVerdict(vr, now); ok {
		return v
	}
	var c *claims
	var decodeErr error
	if p.wire.tokenFirst() && reg.named == nil {
		if c, decodeErr = s.codec.decode(token); decodeErr != nil || c.kind.Provider() != p {
			return verdict{outcome: outcomeInvalidResponse}
		}
	}
	if !reg.known || reg.site.Kind.Provider() != p {
		// A secret of another provider's site is one this provider never
		// issued.
		return verdict{outcome: outcomeInvalidSecret}
	}
	site, named := reg.site, reg.named
	if site.AcceptAnyToken {
		// Google's test secret passes any token, every time (wire-facts §1.7).
		c := &claims{kind: site.Kind, hostname: site.Hostname, action: DefaultAction, scoreMilli: 900}
		return verdict{outcome: outcomeSuccess, site: site, claims: c, challengeTS: now, test: true}
	}
	if named != nil {
		return s.verifyNamed(named, site, now)
	}
	if c == nil {
		c, decodeErr = s.codec.decode(token)
	}
	if decodeErr != nil {
		return verdict{outcome: outcomeInvalidResponse, site: site}
	}
	if c.siteKey != site.SiteKey {
		// A token minted for another site is invalid-input-response
		// (wire-facts §1.8, [uncertain]; override with a Rule if needed).
		// Its claims tell Enterprise's answer a mismatch from a malformed
		// token.
		return verdict{outcome: outcomeInvalidResponse, site: site, claims: c}
	}
	if v, failed := p.wire.check(vr, site); failed {
		return v
	}
	v := verdict{site: site, claims: c, challengeTS: c.issuedAt}
	if s.testHookBeforeSpend != nil {
		s.testHookBeforeSpend()
	}
	// Age and single use are decided together, under one lock and one clock
	// reading, so a concurrent clean-up cannot fall between them.
	switch s.spent.spend(c.id, c.expiresAt(), &s.clock, vr.idempotencyKey) {
	case spendExpired:
		v.outcome = outcomeExpired
	case spendDuplicate:
		v.outcome = outcomeDuplicate
	case spendRetry:
		v.outcome, v.retry = outcomeSuccess, true
	default:
		v.outcome = outcomeSuccess
	}
	return v
}

func (s *Server) verifyNamed(n *namedState, site Site, now time.Time) verdict {
	c, _, err := s.buildClaims(n.Spec)
	if err != nil || c.siteKey != site.SiteKey {
		return verdict{outcome: outcomeInvalidResponse, site: site}
	}
	c.issuedAt = now.Add(-n.Spec.IssuedAgo).Truncate(time.Second).UTC()
	v := verdict{site: site, claims: c, challengeTS: c.issuedAt}
	if n.Spec.IssuedAgo >= c.lifetime {
		v.outcome = outcomeExpired
		return v
	}
	if !n.Reusable {
		s.mu.Lock()
		used := n.used
		n.used = true
		s.mu.Unlock()
		if used {
			v.outcome = outcomeDuplicate
			return v
		}
	}
	v.outcome = outcomeSuccess
	return v
}

// applyRule answers as rule says. It reports false when the rule only
// delayed the answer and normal verification should follow. Deleting the
// rule (closing deleted) ends its wait early, as if the delay had run out.
func (s *Server) applyRule(p *Provider, w http.ResponseWriter, r *http.Request, vr *verifyRequest, rule Rule, deleted <-chan struct{}, entry *Request) bool {
	delay := rule.Delay
	if rule.Fault == FaultHang && delay == 0 {
		delay = 30 * time.Second
	}
	if delay > 0 {
		switch s.sleep(r, delay, deleted) {
		case waitInterrupted:
			entry.Outcome += " (interrupted: client gone or server closing)"
			s.closeConn(w, false)
			return true
		case waitReleased:
			entry.Outcome += " (released early: rule deleted)"
		}
	}
	switch rule.Fault {
	case FaultHang, FaultClose:
		s.closeConn(w, false)
		return true
	case FaultReset:
		s.closeConn(w, true)
		return true
	case FaultMalformedJSON:
		body := malformed(s.successAnswer(p, vr))
		s.writeAnswer(p, w, http.StatusOK, p.wire.contentType(), body)
		entry.Status, entry.Response = http.StatusOK, keep(string(body), journalMaxResponseBytes)
		return true
	case FaultTruncate:
		s.truncateAnswer(p, w, s.successAnswer(p, vr), entry)
		return true
	case FaultHTMLError:
		status := cmp0(rule.Status, http.StatusServiceUnavailable)
		body := p.wire.errorPage(status)
		s.writeAnswer(p, w, status, "text/html; charset=UTF-8", body)
		entry.Status, entry.Response = status, string(body)
		return true
	}
	switch {
	case rule.Body != "":
		status := cmp0(rule.Status, http.StatusOK)
		ct := rule.ContentType
		if ct == "" {
			ct = p.wire.contentType()
		}
		s.writeAnswer(p, w, status, ct, []byte(rule.Body))
		entry.Status, entry.Response = status, keep(rule.Body, journalMaxResponseBytes)
	case rule.ErrorCodes != nil:
		body := p.wire.appendErrorCodes(nil, rule.ErrorCodes)
		status := http.StatusOK
		if sd, ok := p.wire.(statusDialect); ok {
			// Enterprise: an API error's code decides the status (503 for
			// UNAVAILABLE); an invalid reason is a 200 assessment.
			status = sd.answerStatus(&verdict{outcome: outcomeCodes, codes: rule.ErrorCodes})
		}
		s.writeAnswer(p, w, status, p.wire.contentType(), body)
		entry.Status, entry.Response = status, truncate(string(body), journalMaxResponseBytes)
	case rule.Status >= 400:
		body := p.wire.errorPage(rule.Status)
		s.writeAnswer(p, w, rule.Status, "text/html; charset=UTF-8", body)
		entry.Status, entry.Response = rule.Status, string(body)
	case rule.Status != 0:
		s.writeAnswer(p, w, rule.Status, p.wire.contentType(), nil)
		entry.Status = rule.Status
	default:
		return false // delay only: verify normally
	}
	return true
}

type waitResult uint8

const (
	waitElapsed     waitResult = iota
	waitReleased               // the rule was deleted
	waitInterrupted            // the client went away or the server is closing
)

// sleep waits d, or less if the rule is deleted, the client goes away or the
// server closes.
func (s *Server) sleep(r *http.Request, d time.Duration, deleted <-chan struct{}) waitResult {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return waitElapsed
	case <-deleted:
		return waitReleased
	case <-r.Context().Done():
		return waitInterrupted
	case <-s.closing:
		return waitInterrupted
	}
}

// closeConn drops the connection without an answer; with reset, the kernel
// sends RST instead of FIN (SO_LINGER 0).
func (s *Server) closeConn(w http.ResponseWriter, reset bool) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // not hijackable (HTTP/2): abort the stream
	}
	if reset {
		// Under TLS (the intercept package's listeners) the reset must
		// reach the TCP connection beneath, or the client would see a
		// clean close_notify instead.
		raw := conn
		for {
			u, ok := raw.(interface{ NetConn() net.Conn })
			if !ok {
				break
			}
			raw = u.NetConn()
		}
		if tcp, ok := raw.(*net.TCPConn); ok {
			_ = tcp.SetLinger(0)
			tcp.Close()
			return
		}
	}
	conn.Close()
}

// successAnswer is the success answer the provider would give vr for a
// token of its default kind, in its own layout: the answer the faults
// FaultMalformedJSON and FaultTruncate break, so a client meets the
// provider's own field names before the break (an Enterprise client reads
// an assessment, not siteverify's "success").
func (s *Server) successAnswer(p *Provider, vr *verifyRequest) []byte {
	now := s.clock.now()
	c := &claims{kind: p.kinds[0], hostname: "localhost", action: DefaultAction, scoreMilli: 900, issuedAt: now}
	return p.wire.appendAnswer(nil, &verdict{outcome: outcomeSuccess, claims: c, challengeTS: now, request: vr})
}

// malformed breaks a JSON answer off at the first quote past the colon of
// the field after its first true ("success": true, or an assessment's
// "valid": true): a 200 with a JSON content type that no parser accepts,
// whose start a lenient reader may still take for a pass.
func malformed(answer []byte) []byte {
	i := bytes.Index(answer, []byte("true"))
	if i < 0 {
		return answer[:len(answer)/2]
	}
	// The next field's value: past its key's colon, up to its opening quote.
	colon := bytes.IndexByte(answer[i:], ':')
	if colon < 0 {
		return answer[:i+len("true")]
	}
	j := bytes.IndexByte(answer[i+colon:], '"')
	if j < 0 {
		return answer[:i+colon+1]
	}
	return answer[:i+colon+j+1]
}

// truncateAnswer promises a full answer and sends half of it.
func (s *Server) truncateAnswer(p *Provider, w http.ResponseWriter, full []byte, entry *Request) {
	half := full[:len(full)/2]
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	defer conn.Close()
	_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: " + p.wire.contentType() + "\r\nContent-Length: " +
		strconv.Itoa(len(full)) + "\r\n\r\n")
	_, _ = buf.Write(half)
	_ = buf.Flush()
	entry.Status, entry.Response = http.StatusOK, keep(string(half), journalMaxResponseBytes)
}

// readBody reads up to maxBodyBytes+1 bytes into buf (a pooled buffer,
// grown to Content-Length when the client sent one): the body is copied once
// more, into the string that is parsed, and nowhere else.
func readBody(r *http.Request, buf []byte) ([]byte, error) {
	if n := r.ContentLength; n >= 0 && n <= maxBodyBytes {
		buf = slices.Grow(buf[:0], int(n)+1)[:n+1]
		m, err := io.ReadFull(r.Body, buf)
		if m == int(n) && (err == io.ErrUnexpectedEOF || err == io.EOF) {
			err = nil // all of the body, and nothing after it
		}
		return buf[:m], err
	}
	b := bytes.NewBuffer(buf[:0])
	_, err := b.ReadFrom(io.LimitReader(r.Body, maxBodyBytes+1))
	return b.Bytes(), err
}

// parseForm is url.ParseQuery with a fast path. A query without '%', '+' or
// ';' needs no unescaping, so it is split directly, with the same result;
// ParseQuery's byte-by-byte unescaping of a 500-character token was the
// handler's largest cost. Anything else goes to url.ParseQuery.
func parseForm(q string) (url.Values, error) {
	if strings.IndexByte(q, '%') >= 0 || strings.IndexByte(q, '+') >= 0 || strings.IndexByte(q, ';') >= 0 ||
		strings.Count(q, "&") >= 1000 {
		return url.ParseQuery(q)
	}
	m := make(url.Values, 4)
	for q != "" {
		var kv string
		kv, q, _ = strings.Cut(q, "&")
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		m[k] = append(m[k], v)
	}
	return m, nil
}
