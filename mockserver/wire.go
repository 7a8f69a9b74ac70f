package mockserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// JSON forms of the API types, shared by the admin API, the Dial client and
// fixtures files: durations are Go duration strings ("90s", "3m"), and a v3
// score of 0 is written as 0 (in Go it needs ExactlyZero).

type tokenSpecJSON struct {
	SiteKey     string   `json:"sitekey,omitempty"`
	Kind        KeyKind  `json:"kind,omitempty"`
	Score       *float64 `json:"score,omitempty"`
	OmitScore   bool     `json:"omit_score,omitempty"`
	Action      string   `json:"action,omitempty"`
	Hostname    string   `json:"hostname,omitempty"`
	PackageName string   `json:"apk_package_name,omitempty"`
	IssuedAt    string   `json:"issued_at,omitempty"`
	IssuedAgo   string   `json:"issued_ago,omitempty"`
	Lifetime    string   `json:"lifetime,omitempty"`
}

// MarshalJSON writes the spec with durations as strings and an explicit
// zero score as 0.
func (t TokenSpec) MarshalJSON() ([]byte, error) {
	w := tokenSpecJSON{SiteKey: t.SiteKey, Kind: t.Kind, OmitScore: t.OmitScore, Action: t.Action,
		Hostname: t.Hostname, PackageName: t.PackageName}
	switch t.Score {
	case 0:
	case ExactlyZero:
		zero := 0.0
		w.Score = &zero
	default:
		score := t.Score
		w.Score = &score
	}
	if !t.IssuedAt.IsZero() {
		w.IssuedAt = t.IssuedAt.Format(time.RFC3339Nano)
	}
	if t.IssuedAgo != 0 {
		w.IssuedAgo = t.IssuedAgo.String()
	}
	if t.Lifetime != 0 {
		w.Lifetime = t.Lifetime.String()
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads the JSON form; unknown fields are an error.
func (t *TokenSpec) UnmarshalJSON(b []byte) error {
	var w tokenSpecJSON
	if err := strictUnmarshal(b, &w); err != nil {
		return err
	}
	out := TokenSpec{SiteKey: w.SiteKey, Kind: w.Kind, OmitScore: w.OmitScore, Action: w.Action,
		Hostname: w.Hostname, PackageName: w.PackageName}
	if w.Score != nil {
		out.Score = *w.Score
		if out.Score == 0 {
			out.Score = ExactlyZero
		}
	}
	var err error
	if w.IssuedAt != "" {
		if out.IssuedAt, err = time.Parse(time.RFC3339Nano, w.IssuedAt); err != nil {
			return fmt.Errorf("issued_at %q: want RFC 3339, e.g. 2026-01-02T15:04:05Z", w.IssuedAt)
		}
	}
	if out.IssuedAgo, err = parseDuration("issued_ago", w.IssuedAgo); err != nil {
		return err
	}
	if out.Lifetime, err = parseDuration("lifetime", w.Lifetime); err != nil {
		return err
	}
	*t = out
	return nil
}

// strictUnmarshal decodes one JSON value into v, refusing unknown fields and
// trailing data, with messages that name the problem.
func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return describeJSONError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

func describeJSONError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("invalid JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		return fmt.Errorf("field %q: got JSON %s, want %s", typ.Field, typ.Value, typ.Type)
	case errors.Is(err, io.EOF):
		return errors.New("empty body: want a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("invalid JSON: the body ends before the value does")
	}
	return err
}

// parseDuration reads a Go duration string ("90s"), or a bare number of
// nanoseconds, for the named field.
func parseDuration(field, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Duration(n), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s %q: want a duration such as \"90s\" or \"3m\"", field, s)
	}
	return d, nil
}

// UnmarshalJSON reads a named token strictly.
func (n *NamedToken) UnmarshalJSON(b []byte) error {
	type plain NamedToken
	var p plain
	if err := strictUnmarshal(b, &p); err != nil {
		return err
	}
	*n = NamedToken(p)
	return nil
}
