package mockserver

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultScore is the v3 score of a token whose spec sets none: 0.9, the value
// real v3 keys most often return for ordinary traffic (wire-facts §1.6).
const DefaultScore = 0.9

// ExactlyZero asks for a v3 score of 0.0 in [TokenSpec.Score], where the zero
// value means [DefaultScore].
const ExactlyZero = -1.0

// DefaultAction is the v3 action of a token whose spec sets none.
const DefaultAction = "submit"

// TokenSpec describes the token to mint. The zero value is a valid token for
// the default site. [TokenSpecFields] describes its fields once, and its JSON
// form and the fixtures-file format follow from that.
type TokenSpec struct {
	// SiteKey selects the site; empty means the server's default site, or
	// the default site of Kind's provider when Kind is another provider's.
	SiteKey string
	// Kind is the key type; empty means the site's kind.
	Kind KeyKind
	// Score is the score in [0, 1] the answer carries, on the provider's
	// scale: for v3, 1.0 is a human and 0 means DefaultScore; for
	// hCaptcha Enterprise, 1.0 is a bot and 0 means 0.0 (a safe user).
	// ExactlyZero means 0.0. Stored to three decimals. Ignored for other
	// kinds.
	Score float64
	// OmitScore makes a v3 answer carry no score field at all, as a v2 key
	// used in place of a v3 one does (wire-facts §1.8).
	OmitScore bool
	// Action is the v3 action, empty meaning DefaultAction, or the
	// Turnstile action, empty meaning none (answered as ""). Ignored for
	// other kinds.
	Action string
	// CData is Turnstile's customer data (data-cdata), answered as cdata;
	// empty means none. Ignored for other kinds.
	CData string
	// Hostname is the page hostname the token was solved on; empty means the
	// site's hostname. Ignored for Android.
	Hostname string
	// PackageName is the Android apk_package_name; empty means the site's.
	PackageName string
	// IssuedAt is the challenge time; zero means now on the mock's clock
	// minus IssuedAgo. A time in the past makes an old (or expired) token.
	IssuedAt time.Time
	// IssuedAgo backdates a token issued now: "issued 3 minutes ago" is an
	// already expired token.
	IssuedAgo time.Duration
	// Lifetime overrides DefaultTokenLifetime for this token.
	Lifetime time.Duration
	// Reasons are reCAPTCHA Enterprise classification reasons the
	// assessment carries, comma-separated, e.g. "AUTOMATION,TOO_MUCH_TRAFFIC"
	// (see EnterpriseReasons); empty means none. Ignored for other kinds.
	Reasons string
}

// Issued is a minted token and when it stops being verifiable.
type Issued struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// claims is what a token carries. Tokens are claims plus an HMAC, so the mock
// needs no storage to verify one; see spentSet for the single-use rule.
type claims struct {
	id         [16]byte
	kind       KeyKind
	omitScore  bool
	issuedAt   time.Time // millisecond precision
	lifetime   time.Duration
	scoreMilli uint16
	siteKey    string
	action     string
	hostname   string // or the Android package name
	cdata      string // Turnstile's customer data
	reasons    uint8  // Enterprise classification reasons: bit i is enterpriseReasons[i]
}

// reasonCodes are the enum values (1-based) of the claims' reasons.
func (c *claims) reasonCodes() []int {
	var out []int
	for i := range enterpriseReasons {
		if c.reasons&(1<<i) != 0 {
			out = append(out, i+1)
		}
	}
	return out
}

// parseReasons turns a spec's comma-separated reasons into the claims' bits.
func parseReasons(s string) (uint8, error) {
	var bits uint8
	if s == "" {
		return 0, nil
	}
	for _, name := range strings.Split(s, ",") {
		i := slices.Index(enterpriseReasons, strings.TrimSpace(name))
		if i < 0 {
			return 0, fmt.Errorf("reasons: unknown classification reason %q (want some of %s, comma-separated)", abbreviate(name), strings.Join(enterpriseReasons, ", "))
		}
		bits |= 1 << i
	}
	return bits, nil
}

func (c *claims) score() float64 { return float64(c.scoreMilli) / 1000 }

func (c *claims) expiresAt() time.Time { return c.issuedAt.Add(c.lifetime) }

// Token layout, before base64url: version, kind, flags (bit 0 omitScore,
// bits 1-7 Enterprise reasons), issuedAt (unix ms,
// 8 bytes), lifetime (ms, 4), score (milli, 2), id (16), then three
// length-prefixed strings (sitekey, action, hostname), then filler up to
// tokenPayloadSize, then an HMAC-SHA256 of all that. The "03A" prefix and the
// ~520-character length match real tokens, so clients that sanity-check
// tokens (the ambethia gem wants 100-4000 characters) accept them.
const (
	tokenVersion     = 1
	tokenPayloadSize = 352
	tokenMACSize     = sha256.Size
	// MaxTokenLength is the longest token the mock tries to decode; longer
	// ones are invalid-input-response without further work.
	MaxTokenLength = 4096
)

var kindCodes = []KeyKind{V3, V2Checkbox, V2Invisible, Android, HCaptchaPublisher, HCaptchaEnterprise, TurnstileStandard, EnterpriseScore, EnterpriseCheckbox}

func kindCode(k KeyKind) byte {
	for i, kk := range kindCodes {
		if kk == k {
			return byte(i)
		}
	}
	return 0
}

var errBadToken = errors.New("token is malformed or not signed by this server")

type tokenCodec struct {
	key  []byte
	macs sync.Pool // hash.Hash from hmac.New, reused: New costs two SHA-256 blocks and allocations
}

func (tc *tokenCodec) mac() hash.Hash {
	if h, ok := tc.macs.Get().(hash.Hash); ok {
		h.Reset()
		return h
	}
	return hmac.New(sha256.New, tc.key)
}

func newTokenCodec(key []byte) (*tokenCodec, error) {
	if len(key) == 0 {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("generate signing key: %w", err)
		}
	}
	if len(key) < 16 {
		return nil, fmt.Errorf("signing key must be at least 16 bytes, got %d", len(key))
	}
	return &tokenCodec{key: key}, nil
}

func (tc *tokenCodec) encode(c *claims) (string, error) {
	for _, s := range []string{c.siteKey, c.action, c.hostname, c.cdata} {
		if len(s) > 255 {
			return "", fmt.Errorf("token field %q is longer than 255 bytes", abbreviate(s))
		}
	}
	buf := make([]byte, 0, tokenPayloadSize+tokenMACSize)
	var flags byte
	if c.omitScore {
		flags |= 1
	}
	flags |= c.reasons << 1 // seven reasons fit the flags byte's other bits
	buf = append(buf, tokenVersion, kindCode(c.kind), flags)
	buf = binary.BigEndian.AppendUint64(buf, uint64(c.issuedAt.UnixMilli()))
	buf = binary.BigEndian.AppendUint32(buf, uint32(c.lifetime/time.Millisecond))
	buf = binary.BigEndian.AppendUint16(buf, c.scoreMilli)
	buf = append(buf, c.id[:]...)
	for _, s := range []string{c.siteKey, c.action, c.hostname, c.cdata} {
		buf = append(buf, byte(len(s)))
		buf = append(buf, s...)
	}
	// Filler derived from the id: it only makes the token look like a real
	// one, and the MAC covers it.
	for i := 0; len(buf) < tokenPayloadSize; i++ {
		buf = append(buf, c.id[i%16]^byte(i*151))
	}
	mac := tc.mac()
	mac.Write(buf)
	buf = mac.Sum(buf)
	tc.macs.Put(mac)
	return c.kind.Provider().tokenPrefix + base64.RawURLEncoding.EncodeToString(buf), nil
}

func (tc *tokenCodec) decode(tok string) (*claims, error) {
	if len(tok) > MaxTokenLength {
		return nil, errBadToken
	}
	prefix := ""
	for _, p := range Providers() {
		if strings.HasPrefix(tok, p.tokenPrefix) {
			prefix = p.tokenPrefix
			break
		}
	}
	if prefix == "" {
		return nil, errBadToken
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok[len(prefix):])
	if err != nil || len(raw) < tokenMACSize+37 {
		return nil, errBadToken
	}
	payload, sum := raw[:len(raw)-tokenMACSize], raw[len(raw)-tokenMACSize:]
	mac := tc.mac()
	mac.Write(payload)
	var sumBuf [sha256.Size]byte
	ok := hmac.Equal(mac.Sum(sumBuf[:0]), sum)
	tc.macs.Put(mac)
	if !ok {
		return nil, errBadToken
	}
	if payload[0] != tokenVersion || int(payload[1]) >= len(kindCodes) {
		return nil, errBadToken
	}
	c := &claims{kind: kindCodes[payload[1]], omitScore: payload[2]&1 != 0, reasons: payload[2] >> 1}
	p := payload[3:]
	c.issuedAt = time.UnixMilli(int64(binary.BigEndian.Uint64(p))).UTC()
	c.lifetime = time.Duration(binary.BigEndian.Uint32(p[8:])) * time.Millisecond
	c.scoreMilli = binary.BigEndian.Uint16(p[12:])
	copy(c.id[:], p[14:30])
	p = p[30:]
	for _, dst := range []*string{&c.siteKey, &c.action, &c.hostname, &c.cdata} {
		if len(p) < 1 || len(p) < 1+int(p[0]) {
			return nil, errBadToken
		}
		*dst = string(p[1 : 1+int(p[0])])
		p = p[1+int(p[0]):]
	}
	if p := c.kind.Provider(); p == nil || p.tokenPrefix != prefix {
		return nil, errBadToken
	}
	return c, nil
}

// scoreToMilli converts a spec score to the stored form, validating it.
func scoreToMilli(score float64) (uint16, error) {
	switch {
	case score == 0:
		score = DefaultScore
	case score == ExactlyZero:
		score = 0
	case math.IsNaN(score) || score < 0 || score > 1:
		return 0, fmt.Errorf("score %v is outside [0, 1] (use mockserver.ExactlyZero, or -1 in JSON, for 0.0)", score)
	}
	return uint16(math.Round(score * 1000)), nil
}
