package mockserver

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// DefaultJournalSize is how many verification requests the journal keeps
// before it drops the oldest.
const DefaultJournalSize = 10000

// Request is the journal's copy of one siteverify call: what the code under
// test sent and what the mock answered. It never holds a live *http.Request,
// and never a secret in clear.
type Request struct {
	// Seq numbers requests from 1 in arrival order; it survives drops.
	Seq uint64 `json:"seq"`
	// Time is when the request arrived, on the mock's clock.
	Time time.Time `json:"time"`
	// Method, Path and ContentType are as received.
	Method      string `json:"method"`
	Path        string `json:"path"`
	ContentType string `json:"content_type,omitempty"`
	// Query and Form are the URL query and urlencoded body parameters, with
	// the secret replaced by its fingerprint and long values cut short.
	Query url.Values `json:"query,omitempty"`
	Form  url.Values `json:"form,omitempty"`
	// SecretIn says where the secret came from: "form", "query", or "" when
	// none was sent. A secret in the query ends up in proxy and server logs.
	SecretIn string `json:"secret_in,omitempty"`
	// SecretFingerprint identifies the secret sent without revealing it:
	// "sha256:" and the first 12 hex digits of its SHA-256.
	SecretFingerprint string `json:"secret_fingerprint,omitempty"`
	// SecretSite is the sitekey whose secret was sent, "" if none matched.
	SecretSite string `json:"secret_site,omitempty"`
	// Token is the "response" parameter as sent (cut at MaxTokenLength).
	Token string `json:"token,omitempty"`
	// RemoteIP is the "remoteip" parameter as sent.
	RemoteIP string `json:"remoteip,omitempty"`
	// Peer is the TCP address the request came from.
	Peer string `json:"peer"`
	// Outcome is what the mock decided: "success", the error codes, "expired"
	// or "duplicate" (both timeout-or-duplicate on the wire), or
	// "rule <id>: <what it did>".
	Outcome string `json:"outcome"`
	// Rule is the id of the scripted rule that answered, if any.
	Rule string `json:"rule,omitempty"`
	// Status and Response are the HTTP status and body sent; Status is 0 when
	// a fault closed the connection without an answer.
	Status   int    `json:"status"`
	Response string `json:"response,omitempty"`
	// Duration is how long the mock took to answer, scripted delays included.
	Duration time.Duration `json:"duration_ns"`
}

// Journal is a snapshot of the request journal.
type Journal struct {
	// Entries are the kept requests, oldest first.
	Entries []Request `json:"entries"`
	// Dropped counts requests pushed out because the journal was full.
	Dropped uint64 `json:"dropped"`
	// Capacity is the most entries the journal keeps.
	Capacity int `json:"capacity"`
	// Received counts every request since the server started: the
	// sequence number of the newest request, even when the snapshot holds
	// fewer. Clearing the journal does not reset it.
	Received uint64 `json:"received"`
	// More is true when an admin API answer holds only the oldest of the
	// entries asked for (see JournalPageSize): ask again with ?since= the
	// last entry's Seq. The Go API and the Dial client always return all.
	More bool `json:"more,omitempty"`
}

// Paging of GET /__admin/requests: an answer holds at most ?limit= entries
// (default DefaultJournalPage, at most MaxJournalPage) and stops adding
// entries once its JSON passes JournalPageBytes, so that no single answer is
// unbounded. The Dial client pages on its own.
const (
	// DefaultJournalPage is how many entries an answer holds without ?limit=.
	DefaultJournalPage = 1000
	// MaxJournalPage is the largest ?limit= accepted.
	MaxJournalPage = 10000
	// JournalPageBytes is the size after which an answer stops adding
	// entries (it always holds at least one).
	JournalPageBytes = 4 << 20
)

// ForToken returns the entries whose response parameter was tok, which is how
// a test isolates its own calls: every test mints its own tokens.
func (j Journal) ForToken(tok string) []Request {
	var out []Request
	for _, e := range j.Entries {
		if e.Token == tok {
			out = append(out, e)
		}
	}
	return out
}

// Since returns the entries with a sequence number greater than seq.
func (j Journal) Since(seq uint64) []Request {
	i := sort.Search(len(j.Entries), func(i int) bool { return j.Entries[i].Seq > seq })
	return j.Entries[i:]
}

// LastSeq is the sequence number of the newest request, 0 if none: a
// test notes it before it acts and reads Since(LastSeq) afterwards.
func (j Journal) LastSeq() uint64 {
	if len(j.Entries) > 0 {
		return max(j.Received, j.Entries[len(j.Entries)-1].Seq)
	}
	return j.Received
}

// Dump formats entries for a human reading a test failure.
func Dump(entries []Request) string {
	if len(entries) == 0 {
		return "  (no siteverify requests)\n"
	}
	var b strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&b, "  #%d %s %s %s", e.Seq, e.Time.Format("15:04:05.000"), e.Method, e.Path)
		if e.ContentType != "" {
			fmt.Fprintf(&b, " [%s]", e.ContentType)
		}
		fmt.Fprintf(&b, " secret=%s", orNone(e.SecretIn))
		if e.RemoteIP != "" {
			fmt.Fprintf(&b, " remoteip=%s", e.RemoteIP)
		}
		fmt.Fprintf(&b, " token=%s -> %s", abbreviate(e.Token), e.Outcome)
		if e.Status != 0 {
			fmt.Fprintf(&b, " (HTTP %d)", e.Status)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// Dump formats the whole journal for a human.
func (j Journal) Dump() string {
	s := Dump(j.Entries)
	if j.Dropped > 0 {
		s += fmt.Sprintf("  (%d older requests dropped)\n", j.Dropped)
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return "in-" + s
}

// Fingerprint returns the form in which the mock shows a secret: "sha256:"
// and the first 12 hex digits of its SHA-256.
func Fingerprint(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return "sha256:" + hex.EncodeToString(sum[:6])
}

// journal is a bounded ring of Requests.
type journal struct {
	mu      sync.Mutex
	ring    []Request
	next    int // index of the next write
	full    bool
	seq     uint64
	dropped uint64
}

func newJournal(size int) *journal {
	if size <= 0 {
		size = DefaultJournalSize
	}
	return &journal{ring: make([]Request, size)}
}

func (j *journal) add(r Request) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.seq++
	r.Seq = j.seq
	if j.full {
		j.dropped++
	}
	j.ring[j.next] = r
	j.next++
	if j.next == len(j.ring) {
		j.next, j.full = 0, true
	}
}

func (j *journal) snapshot() Journal { return j.snapshotSince(0) }

// snapshotSince copies the kept entries with Seq > seq.
func (j *journal) snapshotSince(seq uint64) Journal { return j.page(seq, 0) }

// page copies the oldest limit kept entries with Seq > seq (all of them
// when limit <= 0) and sets More if there are newer ones. Sequence numbers
// are consecutive, so it copies only what is asked for.
func (j *journal) page(seq uint64, limit int) Journal {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := Journal{Dropped: j.dropped, Capacity: len(j.ring), Received: j.seq}
	kept := j.next
	if j.full {
		kept = len(j.ring)
	}
	if seq >= j.seq {
		return out
	}
	n := int(min(uint64(kept), j.seq-seq)) // entries after seq, newest last
	start := (j.next - n + len(j.ring)) % len(j.ring)
	if limit > 0 && n > limit {
		n, out.More = limit, true
	}
	out.Entries = make([]Request, 0, n)
	if start+n <= len(j.ring) {
		out.Entries = append(out.Entries, j.ring[start:start+n]...)
	} else {
		out.Entries = append(out.Entries, j.ring[start:]...)
		out.Entries = append(out.Entries, j.ring[:n-(len(j.ring)-start)]...)
	}
	return out
}

func (j *journal) clear() {
	j.mu.Lock()
	defer j.mu.Unlock()
	clear(j.ring)
	j.next, j.full, j.dropped = 0, false, 0 // seq keeps counting: readers hold on to it
}

// Limits on what one journal entry keeps, so that hostile requests cannot
// make the journal large. They are exact: an entry keeps at most
// journalMaxParams parameter values in all (query and form together), each
// value at most journalMaxValueBytes and each key at most journalMaxKeyBytes
// after truncation, the marker included. The token is the one longer value:
// it is kept once, up to MaxTokenLength, in Token and wherever it appears as
// a parameter value. TestJournalWorstCaseMemory holds the README's figure for
// a full journal of maximal entries.
const (
	journalMaxParams        = 16
	journalMaxValueBytes    = 512
	journalMaxKeyBytes      = 64
	journalMaxFieldBytes    = 256 // ContentType, RemoteIP, Path
	journalMaxResponseBytes = 4096
	journalMaxOutcomeBytes  = 512
	journalMaxRuleIDBytes   = 64
)

// maxSecretLength is the longest secret a site may have (Site.validate):
// longer values cannot be registered secrets, so the redactor skips its
// table lookup for them (tokens are longer).
const maxSecretLength = 256

// wellKnownParams are recorded first when a request has more parameter
// values than an entry keeps.
var wellKnownParams = [...]string{"secret", "response", "remoteip"}

// redactor is the one place that decides how a value taken from a request
// is recorded. Every path that records or echoes request data passes values
// through it: the journal (fields and parameters, keys included), the debug
// log (which prints journal fields), the mint log, and the admin API's echo
// of rules. A value that is a secret becomes its fingerprint: a registered
// site's secret, the secret the request itself sent, or any value under a
// key that names a secret ("secret", "Secret", "secret_key", ...), whatever
// field it came in. Anything else is cut to its limit and copied, so that
// nothing recorded is a substring pinning a whole request body in memory.
type redactor struct {
	s          *Server // registered secrets; nil for none
	own, ownFP string  // the request's secret parameter and its fingerprint
	// memo holds values already recorded for this request (the token, the
	// remote IP), so that the same value in a field and a parameter is kept
	// once, as one copy.
	memo [2]struct{ raw, kept string }
}

// newRedactor returns a redactor for a request whose secret parameter is
// secret; fp is its fingerprint when already known ("" computes it).
func (s *Server) newRedactor(secret, fp string) redactor {
	rd := redactor{s: s, own: secret, ownFP: fp}
	if secret != "" && fp == "" {
		rd.ownFP = Fingerprint(secret)
	}
	return rd
}

// secretFingerprint reports whether v is a secret the mock knows (the
// request's own or a registered one) and returns its fingerprint.
func (rd *redactor) secretFingerprint(v string) (string, bool) {
	if v == "" {
		return "", false
	}
	// The request's own secret first, whatever its length: only registered
	// secrets are bounded by maxSecretLength.
	if v == rd.own {
		return rd.ownFP, true
	}
	if rd.s == nil || len(v) > maxSecretLength {
		return "", false
	}
	return rd.s.registeredFingerprint(v)
}

// registeredFingerprint returns the fingerprint of v if v is a registered
// site's secret. It is the redactor's only access to the site tables.
func (s *Server) registeredFingerprint(v string) (string, bool) {
	s.mu.RLock()
	fp, ok := s.fpBySecret[v]
	s.mu.RUnlock()
	return fp, ok
}

// value records v, a field or parameter value: its fingerprint if it is a
// secret, else a copy of at most n bytes.
func (rd *redactor) value(v string, n int) string {
	if v == "" {
		return ""
	}
	for _, m := range rd.memo {
		if m.raw == v && m.raw != "" {
			return m.kept
		}
	}
	if fp, ok := rd.secretFingerprint(v); ok {
		return fp
	}
	return keep(v, n)
}

// remember records v as value does and makes later records of the same
// value share the copy.
func (rd *redactor) remember(slot int, v string, n int) string {
	kept := rd.value(v, n)
	rd.memo[slot].raw, rd.memo[slot].kept = v, kept
	return kept
}

// param records the value v of parameter k.
func (rd *redactor) param(k, v string) string {
	if namesSecret(k) {
		if fp, ok := rd.secretFingerprint(v); ok {
			return fp // cached: no hashing per request
		}
		return Fingerprint(v) // an unregistered secret, never kept raw
	}
	return rd.value(v, journalMaxValueBytes)
}

// key records a parameter name: a secret sent as a bare key ("<secret>="
// or a body that is only the secret) is fingerprinted too.
func (rd *redactor) key(k string) string {
	for _, w := range wellKnownParams {
		if k == w {
			return w // the constant: no copy
		}
	}
	if fp, ok := rd.secretFingerprint(k); ok {
		return fp
	}
	return keep(k, journalMaxKeyBytes)
}

// namesSecret reports whether a parameter name says its value is a secret,
// in any case: "secret", "Secret", "SECRET", "secret_key", "recaptchaSecret".
func namesSecret(k string) bool {
	return containsFold(k, "secret")
}

// containsFold is an ASCII case-insensitive strings.Contains for a
// lower-case needle, without allocating.
func containsFold(s, lowerNeedle string) bool {
	n := len(lowerNeedle)
	for i := 0; i+n <= len(s); i++ {
		j := 0
		for ; j < n; j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != lowerNeedle[j] {
				break
			}
		}
		if j == n {
			return true
		}
	}
	return false
}

// params records a request's query and form parameters: at most
// journalMaxParams values in all. When a request has more, the well-known
// parameters come first (form, then query), then the others by key.
func (rd *redactor) params(query, form url.Values) (q, f url.Values) {
	left := journalMaxParams
	take := func(dst *url.Values, k string, vs []string) {
		for _, v := range vs {
			if left == 0 {
				return
			}
			if *dst == nil {
				*dst = make(url.Values, 4)
			}
			rk := rd.key(k)
			(*dst)[rk] = append((*dst)[rk], rd.param(k, v))
			left--
		}
	}
	if countValues(query)+countValues(form) <= left {
		// Everything fits (every ordinary request): no ordering needed.
		for k, vs := range form {
			take(&f, k, vs)
		}
		for k, vs := range query {
			take(&q, k, vs)
		}
		return q, f
	}
	for _, k := range wellKnownParams {
		take(&f, k, form[k])
		take(&q, k, query[k])
	}
	for _, src := range [...]struct {
		dst  *url.Values
		vals url.Values
	}{{&f, form}, {&q, query}} {
		keys := make([]string, 0, len(src.vals))
		for k := range src.vals {
			if !slices.Contains(wellKnownParams[:], k) {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			if left == 0 {
				break
			}
			take(src.dst, k, src.vals[k])
		}
	}
	return q, f
}

func countValues(v url.Values) int {
	n := 0
	for _, vs := range v {
		n += len(vs)
	}
	return n
}

// truncMark ends a value that was cut short.
const truncMark = "…(truncated)"

// truncate cuts s to at most n bytes, the marker included, at a UTF-8
// boundary. The result may share s's memory; keep does not.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if n <= len(truncMark) {
		return s[:n] // too short for the marker (never, for our limits)
	}
	cut := n - len(truncMark)
	for i := 0; i < utf8.UTFMax-1 && cut > 0 && !utf8.RuneStart(s[cut]); i++ {
		cut--
	}
	return s[:cut] + truncMark
}

// keep returns s cut to at most n bytes as a string of its own. What the
// journal and the mint log keep must not be a substring of a request: one
// short value would pin the whole body (or request line) in memory. It
// truncates before copying, so a long value costs n bytes, not its length.
func keep(s string, n int) string {
	if len(s) <= n || n <= len(truncMark) {
		return strings.Clone(s[:min(len(s), n)])
	}
	return truncate(s, n) // a concatenation: already a copy
}

// recordContentType records a Content-Type header: the usual one as a
// constant (no copy per request), any other cut and copied.
func recordContentType(ct string) string {
	if ct == "application/x-www-form-urlencoded" {
		return "application/x-www-form-urlencoded"
	}
	return keep(ct, journalMaxFieldBytes)
}

// echoMatch shows a rule's Match as the admin API echoes it, through the
// same redactor as the journal: the secret it matches as a fingerprint, and
// a token or remote IP that is a secret (registered, or the rule's own) as
// well. secretShown says m.Secret is already a fingerprint (Server.Rules).
func (s *Server) echoMatch(m Match, secretShown bool) Match {
	rd := s.newRedactor("", "")
	if m.Secret != "" && !secretShown {
		rd.own, rd.ownFP = m.Secret, Fingerprint(m.Secret)
		m.Secret = rd.ownFP
	}
	for _, f := range [...]*string{&m.Token, &m.RemoteIP} {
		if fp, ok := rd.secretFingerprint(*f); ok {
			*f = fp
		} else if secretShown && m.Secret != "" && *f != "" && Fingerprint(*f) == m.Secret {
			*f = m.Secret // the rule's own secret, known here by its fingerprint
		}
	}
	return m
}
