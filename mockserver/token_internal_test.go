package mockserver

import (
	"encoding/base64"
	"encoding/binary"
	"strings"
	"testing"
	"time"
)

// signPayload turns a hand-built payload into a token signed by tc, as
// anyone holding Options.SigningKey can: decode must take any signed payload
// without panicking and read exactly the layout encode writes.
func signPayload(tc *tokenCodec, payload []byte) string {
	mac := tc.mac()
	mac.Write(payload)
	raw := mac.Sum(append([]byte(nil), payload...))
	tc.macs.Put(mac)
	return ReCAPTCHA.tokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
}

// minimalPayload is the shortest payload of the layout: the fixed header and
// three length bytes, then fields, with no filler after them.
func minimalPayload(kind byte, fields ...string) []byte {
	p := []byte{tokenVersion, kind, 0}
	p = binary.BigEndian.AppendUint64(p, uint64(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixMilli()))
	p = binary.BigEndian.AppendUint32(p, 120000)
	p = binary.BigEndian.AppendUint16(p, 700)
	p = append(p, "0123456789abcdef"...)
	for _, f := range fields {
		p = append(p, byte(len(f)))
		p = append(p, f...)
	}
	return p
}

func testCodec(t *testing.T) *tokenCodec {
	t.Helper()
	tc, err := newTokenCodec([]byte("0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	return tc
}

// A signed payload with no filler is well formed: the smallest one (four
// empty fields, 37 bytes) and one whose last field ends the payload exactly.
func TestDecodeReadsPayloadsWithoutFiller(t *testing.T) {
	tc := testCodec(t)
	for _, fields := range [][4]string{{"", "", "", ""}, {"site", "act", "h", "cd"}} {
		p := minimalPayload(2, fields[:]...)
		c, err := tc.decode(signPayload(tc, p))
		if err != nil {
			t.Fatalf("payload of %d bytes with fields %q: %v", len(p), fields, err)
		}
		if got := [4]string{c.siteKey, c.action, c.hostname, c.cdata}; got != fields {
			t.Errorf("fields %q, want %q", got, fields)
		}
		if c.kind != V2Invisible || c.lifetime != 2*time.Minute || c.scoreMilli != 700 || string(c.id[:]) != "0123456789abcdef" {
			t.Errorf("claims %+v do not match the payload", c)
		}
	}
}

// Signed payloads that break the layout are refused, never a panic: a kind
// code past the table, a field length past the end, a missing length byte.
func TestDecodeRefusesSignedMalformedPayloads(t *testing.T) {
	tc := testCodec(t)
	bad := map[string][]byte{
		"kind code past the table": minimalPayload(byte(len(kindCodes)), "", "", "", ""),
		"kind code 255":            minimalPayload(255, "", "", "", ""),
		"last field too long":      append(minimalPayload(0, "", "", ""), 5, 'a'),
		"last field length only":   append(minimalPayload(0, "", "", ""), 1),
		"a field missing":          minimalPayload(0, "", "", ""),
		"version 2":                append([]byte{2}, minimalPayload(0, "", "", "", "")[1:]...),
	}
	for name, p := range bad {
		t.Run(name, func(t *testing.T) {
			if c, err := tc.decode(signPayload(tc, p)); err == nil {
				t.Fatalf("payload %x decoded to %+v, want errBadToken", p, c)
			}
		})
	}
}

// Every minted token has the same length whatever its fields (up to the
// filler's room): the payload is padded to tokenPayloadSize exactly, so a
// token is 3 + 512 characters, like a real one.
func TestTokenPayloadIsPaddedExactly(t *testing.T) {
	tc := testCodec(t)
	for _, c := range []*claims{
		{kind: V3, siteKey: "k", action: "a", hostname: "h"},
		{kind: Android, siteKey: strings.Repeat("k", 40), hostname: "com.example.app"},
	} {
		tok, err := tc.encode(c)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := base64.RawURLEncoding.DecodeString(tok[len(ReCAPTCHA.tokenPrefix):])
		if err != nil {
			t.Fatal(err)
		}
		if len(raw) != tokenPayloadSize+tokenMACSize || len(tok) != 515 {
			t.Errorf("token of %d characters, %d bytes; want 515 characters, %d bytes", len(tok), len(raw), tokenPayloadSize+tokenMACSize)
		}
	}
}

// Fields of up to 255 bytes fit their length byte and round-trip; 256 bytes
// is refused.
func TestTokenFieldLengthLimit(t *testing.T) {
	tc := testCodec(t)
	long := strings.Repeat("x", 255)
	tok, err := tc.encode(&claims{kind: V3, siteKey: long, action: long, hostname: long})
	if err != nil {
		t.Fatalf("255-byte fields: %v", err)
	}
	c, err := tc.decode(tok)
	if err != nil {
		t.Fatal(err)
	}
	if c.siteKey != long || c.action != long || c.hostname != long {
		t.Errorf("255-byte fields did not round-trip")
	}
	for i := range 3 {
		f := [3]string{"k", "a", "h"}
		f[i] = long + "x"
		if _, err := tc.encode(&claims{kind: V3, siteKey: f[0], action: f[1], hostname: f[2]}); err == nil || !strings.Contains(err.Error(), "255 bytes") {
			t.Errorf("a 256-byte field %d: %v, want an error naming 255 bytes", i, err)
		}
	}
}

// The signing key may be 16 bytes, not 15.
func TestSigningKeyMinimumLength(t *testing.T) {
	if _, err := newTokenCodec(make([]byte, 16)); err != nil {
		t.Errorf("16-byte key: %v", err)
	}
	if _, err := newTokenCodec(make([]byte, 15)); err == nil || !strings.Contains(err.Error(), "16 bytes") {
		t.Errorf("15-byte key: %v, want an error naming 16 bytes", err)
	}
}
