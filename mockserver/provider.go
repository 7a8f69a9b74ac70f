package mockserver

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// outcome is the mock's verdict before a provider dialect turns it into wire
// error codes. Expired and duplicate are kept apart here (and in the journal)
// even though reCAPTCHA reports both as timeout-or-duplicate; hCaptcha, for
// one, does not.
type outcome int

const (
	outcomeSuccess outcome = iota
	outcomeMissing         // missing response and/or secret; see verdict.missing*
	outcomeInvalidSecret
	outcomeInvalidResponse
	outcomeExpired
	outcomeDuplicate
	outcomeBadRequest
)

// verdict is the result of verifying one request.
type verdict struct {
	outcome         outcome
	missingResponse bool
	missingSecret   bool
	site            Site
	claims          *claims // nil unless the token decoded
	challengeTS     time.Time
}

// dialect is the seam for a provider's wire format: which paths it serves,
// its vocabulary of error codes and how it renders an answer. reCAPTCHA is
// the only one today; hCaptcha and Turnstile differ in lifetimes, codes
// (already-seen-response vs timeout-or-duplicate), timestamp precision and
// JSON layout, and each will be another dialect.
type dialect interface {
	// errorCodes returns the wire error codes for a failed verdict.
	errorCodes(v *verdict) []string
	// appendAnswer renders the JSON answer for v.
	appendAnswer(buf []byte, v *verdict) []byte
	// appendErrorCodes renders a failure answer with exactly these codes.
	appendErrorCodes(buf []byte, codes []string) []byte
	// contentType is the Content-Type of answers.
	contentType() string
}

// recaptcha is Google reCAPTCHA's siteverify dialect (wire-facts §1).
type recaptcha struct{}

// reCAPTCHA wire error codes (Google "Verifying the user's response").
const (
	CodeMissingInputSecret   = "missing-input-secret"
	CodeInvalidInputSecret   = "invalid-input-secret"
	CodeMissingInputResponse = "missing-input-response"
	CodeInvalidInputResponse = "invalid-input-response"
	CodeBadRequest           = "bad-request"
	CodeTimeoutOrDuplicate   = "timeout-or-duplicate"
)

func (recaptcha) contentType() string { return "application/json; charset=utf-8" }

func (recaptcha) errorCodes(v *verdict) []string {
	switch v.outcome {
	case outcomeMissing:
		// Both missing: response first, then secret, as Google answers an
		// empty request (wire-facts §1.2).
		var codes []string
		if v.missingResponse {
			codes = append(codes, CodeMissingInputResponse)
		}
		if v.missingSecret {
			codes = append(codes, CodeMissingInputSecret)
		}
		return codes
	case outcomeInvalidSecret:
		return []string{CodeInvalidInputSecret}
	case outcomeInvalidResponse:
		return []string{CodeInvalidInputResponse}
	case outcomeExpired, outcomeDuplicate:
		return []string{CodeTimeoutOrDuplicate}
	case outcomeBadRequest:
		return []string{CodeBadRequest}
	}
	return nil
}

// appendAnswer writes Google's layout: pretty-printed with two-space indent,
// success first, error-codes omitted on success, challenge_ts in whole
// seconds with Z (wire-facts §1.2, 2016 cassette and later samples).
func (d recaptcha) appendAnswer(b []byte, v *verdict) []byte {
	if v.outcome != outcomeSuccess {
		return d.appendErrorCodes(b, d.errorCodes(v))
	}
	b = append(b, "{\n  \"success\": true,\n  \"challenge_ts\": "...)
	b = appendTimestamp(b, v.challengeTS)
	c := v.claims
	if c.kind == Android {
		b = append(b, ",\n  \"apk_package_name\": "...)
		b = appendJSONString(b, c.hostname)
	} else {
		b = append(b, ",\n  \"hostname\": "...)
		b = appendJSONString(b, c.hostname)
	}
	if c.kind == V3 {
		if !c.omitScore {
			b = append(b, ",\n  \"score\": "...)
			b = strconv.AppendFloat(b, c.score(), 'f', -1, 64)
		}
		b = append(b, ",\n  \"action\": "...)
		b = appendJSONString(b, c.action)
	}
	return append(b, "\n}"...)
}

func (recaptcha) appendErrorCodes(b []byte, codes []string) []byte {
	b = append(b, "{\n  \"success\": false"...)
	if len(codes) > 0 {
		b = append(b, ",\n  \"error-codes\": ["...)
		for i, c := range codes {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, "\n    "...)
			b = appendJSONString(b, c)
		}
		b = append(b, "\n  ]"...)
	}
	return append(b, "\n}"...)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string literal; invalid UTF-8 becomes
// U+FFFD, as encoding/json does.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else if r == '\u2028' || r == '\u2029' {
			b = append(b, `\u202`...)
			b = append(b, hexDigits[r&0xF])
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// appendTimestamp appends t as a JSON string in Google's challenge_ts form,
// "2006-01-02T15:04:05Z" in UTC, without time.Format's layout parsing
// (which showed up in profiles). Years outside 0-9999 fall back to Format.
func appendTimestamp(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return appendJSONString(b, t.Format("2006-01-02T15:04:05Z"))
	}
	hour, minute, sec := t.Clock()
	b = append(b, '"')
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	b = appendDigits(b, sec, 2)
	return append(b, 'Z', '"')
}

// appendDigits appends v, zero-padded to width (at most 4) digits.
func appendDigits(b []byte, v, width int) []byte {
	var d [4]byte
	for i := width - 1; i >= 0; i-- {
		d[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, d[:width]...)
}
