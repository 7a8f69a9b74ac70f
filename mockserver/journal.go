package mockserver

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
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
}

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

// snapshotSince copies the kept entries with Seq > seq. Sequence numbers
// are consecutive, so it copies only what is asked for.
func (j *journal) snapshotSince(seq uint64) Journal {
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
	n := min(uint64(kept), j.seq-seq) // entries to copy, newest last
	out.Entries = make([]Request, 0, n)
	start := (j.next - int(n) + len(j.ring)) % len(j.ring)
	if start+int(n) <= len(j.ring) {
		out.Entries = append(out.Entries, j.ring[start:start+int(n)]...)
	} else {
		out.Entries = append(out.Entries, j.ring[start:]...)
		out.Entries = append(out.Entries, j.ring[:j.next]...)
	}
	return out
}

func (j *journal) clear() {
	j.mu.Lock()
	defer j.mu.Unlock()
	clear(j.ring)
	j.next, j.full, j.dropped = 0, false, 0 // seq keeps counting: readers hold on to it
}

// Limits on what one journal entry keeps, so hostile requests cannot make
// the journal large: 10 000 entries stay under about 100 MB.
const (
	journalMaxParams     = 16
	journalMaxValueBytes = 512
)

// redactParams copies vals for the journal: the secret becomes its
// fingerprint, the token is kept whole (it has its own field and limit), and
// other values are cut short.
func redactParams(vals url.Values, secret, fingerprint string) url.Values {
	if len(vals) == 0 {
		return nil
	}
	out := make(url.Values, min(len(vals), journalMaxParams))
	for k, vs := range vals {
		if len(out) == journalMaxParams {
			break
		}
		k = truncate(k, 64)
		for _, v := range vs {
			if len(out[k]) == 4 { // keys cut short can collide
				break
			}
			switch k {
			case "secret":
				if v == secret && fingerprint != "" {
					v = fingerprint // computed once per request, or cached per site
				} else {
					v = Fingerprint(v)
				}
			case "response":
				v = truncate(v, MaxTokenLength)
			default:
				v = truncate(v, journalMaxValueBytes)
			}
			out[k] = append(out[k], v)
		}
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…(truncated)"
}
