package mockserver

import (
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Fault is a way for the mock to fail at the transport or format level, as a
// provider does during an outage.
type Fault string

// Faults a Rule can script.
const (
	// FaultHang accepts the request and answers nothing for Rule.Delay
	// (default 30 s), then closes the connection.
	FaultHang Fault = "hang"
	// FaultClose closes the connection without an answer (the client sees EOF).
	FaultClose Fault = "close"
	// FaultReset closes the connection with a TCP RST (the client sees
	// "connection reset by peer").
	FaultReset Fault = "reset"
	// FaultMalformedJSON answers 200 with a JSON content type and a body that
	// is not JSON: the provider's own success answer, broken off just past
	// its first true.
	FaultMalformedJSON Fault = "malformed-json"
	// FaultTruncate announces the full length of the provider's success
	// answer, sends half of it and closes the connection.
	FaultTruncate Fault = "truncate"
	// FaultHTMLError answers the provider's HTML error page (Google's, or
	// Cloudflare's for hCaptcha and Turnstile) with Rule.Status (default
	// 503), as a front end in trouble does.
	FaultHTMLError Fault = "html-error"
)

// Faults lists the known faults.
func Faults() []Fault {
	return []Fault{FaultHang, FaultClose, FaultReset, FaultMalformedJSON, FaultTruncate, FaultHTMLError}
}

// Forever is a Rule.Times that never runs out.
const Forever = -1

// MaxRules bounds the number of rules a server holds.
const MaxRules = 1000

// MaxRuleDelay bounds Rule.Delay.
const MaxRuleDelay = 10 * time.Minute

// Match selects the requests a Rule answers. Empty fields match anything.
type Match struct {
	// Token matches the "response" parameter exactly.
	Token string `json:"token,omitempty"`
	// Secret matches the "secret" parameter exactly.
	Secret string `json:"secret,omitempty"`
	// RemoteIP matches the "remoteip" parameter exactly.
	RemoteIP string `json:"remoteip,omitempty"`
}

// Rule scripts what the mock answers for what tokens cannot express: outages,
// odd error codes, exact bodies, slow answers. Rules are tried in the order
// they were added; the first that matches answers and uses up one of its
// Times. What a rule does, in order of precedence: Fault; else Body (with
// Status and ContentType); else ErrorCodes; else Status alone (>= 400 gives
// the provider's HTML error page); else Delay alone then the normal
// verification.
type Rule struct {
	// ID names the rule; the server assigns "r1", "r2", … when empty.
	ID string `json:"id,omitempty"`
	// Match selects requests; the zero Match matches every request.
	Match Match `json:"match,omitzero"`
	// Times is how many requests the rule answers: 0 means 1, Forever never
	// runs out.
	Times int `json:"times,omitempty"`
	// Status is the HTTP status to answer.
	Status int `json:"status,omitempty"`
	// Body is an exact body to answer, with Status (default 200) and
	// ContentType (default application/json; charset=utf-8).
	Body        string `json:"body,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	// ErrorCodes answers {"success": false, "error-codes": [...]} with HTTP 200.
	ErrorCodes []string `json:"error_codes,omitempty"`
	// Fault makes the answer fail at the transport or format level.
	Fault Fault `json:"fault,omitempty"`
	// Delay waits before answering (and is how long FaultHang hangs).
	Delay time.Duration `json:"delay,omitempty"`
	// Spend verifies the request first, as siteverify would (spending the
	// token, and recording a Turnstile idempotency_key with it), and then
	// answers as scripted: siteverify did its work and its answer was lost.
	// A retry of the token then meets a spent token, unless it reuses the
	// idempotency key.
	Spend bool `json:"spend,omitempty"`
}

// ruleJSON is Rule on the wire: Delay as a Go duration string ("30s").
type ruleJSON struct {
	ID          string   `json:"id,omitempty"`
	Match       Match    `json:"match,omitzero"`
	Times       int      `json:"times,omitempty"`
	Status      int      `json:"status,omitempty"`
	Body        string   `json:"body,omitempty"`
	ContentType string   `json:"content_type,omitempty"`
	ErrorCodes  []string `json:"error_codes,omitempty"`
	Fault       Fault    `json:"fault,omitempty"`
	Delay       string   `json:"delay,omitempty"`
	Spend       bool     `json:"spend,omitempty"`
	Remaining   int      `json:"remaining,omitempty"`
}

// MarshalJSON writes Delay as a duration string such as "30s".
func (r Rule) MarshalJSON() ([]byte, error) {
	w := ruleJSON{ID: r.ID, Match: r.Match, Times: r.Times, Status: r.Status, Body: r.Body,
		ContentType: r.ContentType, ErrorCodes: r.ErrorCodes, Fault: r.Fault, Spend: r.Spend}
	if r.Delay != 0 {
		w.Delay = r.Delay.String()
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads Delay as a duration string ("30s") or nanoseconds.
func (r *Rule) UnmarshalJSON(b []byte) error {
	var w ruleJSON
	if err := strictUnmarshal(b, &w); err != nil {
		return err
	}
	d, err := parseDuration("delay", w.Delay)
	if err != nil {
		return err
	}
	*r = Rule{ID: w.ID, Match: w.Match, Times: w.Times, Status: w.Status, Body: w.Body,
		ContentType: w.ContentType, ErrorCodes: w.ErrorCodes, Fault: w.Fault, Delay: d, Spend: w.Spend}
	return nil
}

// Validate reports the first problem with r, naming the field.
func (r Rule) Validate() error {
	switch {
	case r.Times < Forever:
		return fmt.Errorf("rule %s: times %d: want a positive count, 0 (once) or -1 (forever)", r.ID, r.Times)
	case r.Status != 0 && (r.Status < 100 || r.Status > 599):
		return fmt.Errorf("rule %s: status %d is not an HTTP status (100-599)", r.ID, r.Status)
	case r.Delay < 0 || r.Delay > MaxRuleDelay:
		return fmt.Errorf("rule %s: delay %v: want between 0 and %v", r.ID, r.Delay, MaxRuleDelay)
	case len(r.Body) > maxBodyBytes:
		return fmt.Errorf("rule %s: body is %d bytes, more than %d", r.ID, len(r.Body), maxBodyBytes)
	case len(r.ErrorCodes) > 16:
		return fmt.Errorf("rule %s: %d error codes, more than 16", r.ID, len(r.ErrorCodes))
	case r.Spend && r.Fault == "" && r.Body == "" && r.ErrorCodes == nil && r.Status == 0:
		return fmt.Errorf("rule %s: spend needs an answer to lose (fault, body, error_codes or status): the verification's own answer would be sent", r.ID)
	}
	if r.Fault != "" {
		known := false
		for _, f := range Faults() {
			known = known || f == r.Fault
		}
		if !known {
			return fmt.Errorf("rule %s: unknown fault %q (want one of %v)", r.ID, r.Fault, Faults())
		}
	}
	if r.Fault == "" && r.Body == "" && r.ErrorCodes == nil && r.Status == 0 && r.Delay == 0 {
		return fmt.Errorf("rule %s: does nothing: set fault, body, error_codes, status or delay", r.ID)
	}
	return nil
}

func (r Rule) describe() string {
	if r.Spend {
		return "verified, then " + r.describeAnswer()
	}
	return r.describeAnswer()
}

func (r Rule) describeAnswer() string {
	switch {
	case r.Fault != "":
		return "fault " + string(r.Fault)
	case r.Body != "":
		return "body (HTTP " + strconv.Itoa(cmp0(r.Status, 200)) + ")"
	case r.ErrorCodes != nil:
		return fmt.Sprintf("error codes %v", r.ErrorCodes)
	case r.Status != 0:
		return "HTTP " + strconv.Itoa(r.Status)
	default:
		return "delay " + r.Delay.String()
	}
}

func cmp0(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func (m Match) matches(token, secret, remoteIP string) bool {
	return (m.Token == "" || m.Token == token) &&
		(m.Secret == "" || m.Secret == secret) &&
		(m.RemoteIP == "" || m.RemoteIP == remoteIP)
}

type activeRule struct {
	Rule
	remaining int // Forever, or how many answers are left
	// deleted is closed when the rule is deleted (remove, clear, replace),
	// which releases the requests it holds; not when it runs out of answers.
	deleted chan struct{}
}

// ruleSet holds the scripted rules. The hot path checks an empty set without
// taking the lock.
type ruleSet struct {
	mu     sync.Mutex
	rules  []*activeRule
	nextID int
	count  atomic.Int32 // len(rules), read without the lock on the hot path
}

func (rs *ruleSet) add(r Rule) (Rule, error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if len(rs.rules) >= MaxRules {
		return Rule{}, fmt.Errorf("too many rules (%d); delete some first", MaxRules)
	}
	generated := r.ID == ""
	if generated {
		r.ID = "r" + strconv.Itoa(rs.nextID+1)
	}
	if err := r.Validate(); err != nil {
		return Rule{}, err
	}
	for _, e := range rs.rules {
		if e.ID == r.ID {
			return Rule{}, fmt.Errorf("rule %s: id already in use", r.ID)
		}
	}
	if generated {
		rs.nextID++
	}
	remaining := r.Times
	if remaining == 0 {
		remaining = 1
	}
	rs.rules = append(rs.rules, &activeRule{Rule: r, remaining: remaining, deleted: make(chan struct{})})
	rs.setCount()
	return r, nil
}

// take finds the first rule matching the request and uses up one answer. The
// channel is closed if the rule is deleted while the request is held.
func (rs *ruleSet) take(token, secret, remoteIP string) (Rule, <-chan struct{}, bool) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for i, r := range rs.rules {
		if !r.Match.matches(token, secret, remoteIP) {
			continue
		}
		if r.remaining != Forever {
			r.remaining--
			if r.remaining == 0 {
				rs.rules = append(rs.rules[:i], rs.rules[i+1:]...)
				rs.setCount()
			}
		}
		return r.Rule, r.deleted, true
	}
	return Rule{}, nil, false
}

func (rs *ruleSet) remove(id string) bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for i, r := range rs.rules {
		if r.ID == id {
			rs.rules = append(rs.rules[:i], rs.rules[i+1:]...)
			rs.setCount()
			close(r.deleted)
			return true
		}
	}
	return false
}

// list returns the active rules with their remaining counts, secrets in
// Match shown as fingerprints.
func (rs *ruleSet) list() []Rule {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	out := make([]Rule, 0, len(rs.rules))
	for _, r := range rs.rules {
		c := r.Rule
		c.Times = r.remaining
		if c.Match.Secret != "" {
			c.Match.Secret = Fingerprint(c.Match.Secret)
		}
		out = append(out, c)
	}
	return out
}

func (rs *ruleSet) clear() {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for _, r := range rs.rules {
		close(r.deleted)
	}
	rs.rules = nil
	rs.setCount()
}

// replace swaps in the rules and ID counter of next, a set no one else
// holds, in one step, deleting the current rules.
func (rs *ruleSet) replace(next *ruleSet) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for _, r := range rs.rules {
		close(r.deleted)
	}
	rs.rules, rs.nextID = next.rules, next.nextID
	rs.setCount()
}

func (rs *ruleSet) setCount() { rs.count.Store(int32(len(rs.rules))) }
