package mockserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// SpecField describes one field of [TokenSpec]. [TokenSpecFields] lists
// them; TokenSpec's JSON form (admin API, [Dial]) and the fixtures-file
// format (package fixturefile) both follow from that list.
type SpecField struct {
	// Name is the field's key in JSON and YAML, e.g. "omit_score".
	Name string
	// Type is what the field holds: "string", "kind" (a KeyKind), "score"
	// (a float64 as in TokenSpec.Score), "bool", "duration" or "time".
	Type string
	// Doc says what the field means, in one line.
	Doc string
	// AppliesTo lists the key kinds whose answers show the field; nil means
	// every kind.
	AppliesTo []KeyKind

	ptr func(*TokenSpec) any // the field within a spec, as a pointer
}

// tokenSpecFields is the one description of TokenSpec's fields, in the
// order of the JSON form and the fixtures documentation.
var tokenSpecFields = withTypes([]SpecField{
	{Name: "sitekey", Doc: "the site's public key; empty means the server's default site",
		ptr: func(t *TokenSpec) any { return &t.SiteKey }},
	{Name: "kind", Doc: "the key type, e.g. v3; empty means the site's",
		ptr: func(t *TokenSpec) any { return &t.Kind }},
	{Name: "score", Doc: "score in [0, 1]: v3's and reCAPTCHA Enterprise's (1 is a human; absent means 0.9) or hCaptcha Enterprise's (1 is a bot; absent means 0); 0 means 0.0", AppliesTo: []KeyKind{V3, HCaptchaEnterprise, EnterpriseScore, EnterpriseCheckbox},
		ptr: func(t *TokenSpec) any { return &t.Score }},
	{Name: "omit_score", Doc: "a v3 answer with no score field, as a v2 key used in place of a v3 one gives", AppliesTo: []KeyKind{V3},
		ptr: func(t *TokenSpec) any { return &t.OmitScore }},
	{Name: "action", Doc: `v3 and reCAPTCHA Enterprise action (empty means "submit") or Turnstile action (empty means none)`, AppliesTo: []KeyKind{V3, TurnstileStandard, EnterpriseScore, EnterpriseCheckbox},
		ptr: func(t *TokenSpec) any { return &t.Action }},
	{Name: "cdata", Doc: "Turnstile customer data; empty means none", AppliesTo: []KeyKind{TurnstileStandard},
		ptr: func(t *TokenSpec) any { return &t.CData }},
	{Name: "hostname", Doc: "page hostname the token was solved on; empty means the site's", AppliesTo: allKindsBut(Android),
		ptr: func(t *TokenSpec) any { return &t.Hostname }},
	{Name: "apk_package_name", Doc: "Android package name; empty means the site's", AppliesTo: []KeyKind{Android},
		ptr: func(t *TokenSpec) any { return &t.PackageName }},
	{Name: "issued_at", Doc: "challenge time (RFC 3339); empty means now minus issued_ago",
		ptr: func(t *TokenSpec) any { return &t.IssuedAt }},
	{Name: "issued_ago", Doc: "age of a token issued now; at least its lifetime means already expired",
		ptr: func(t *TokenSpec) any { return &t.IssuedAgo }},
	{Name: "lifetime", Doc: "how long the token verifies; empty means the default, at most 24h",
		ptr: func(t *TokenSpec) any { return &t.Lifetime }},
	{Name: "reasons", Doc: "reCAPTCHA Enterprise classification reasons, comma-separated, e.g. AUTOMATION,TOO_MUCH_TRAFFIC", AppliesTo: []KeyKind{EnterpriseScore, EnterpriseCheckbox},
		ptr: func(t *TokenSpec) any { return &t.Reasons }},
})

// withTypes fills in each field's Type from the Go type it holds.
func withTypes(fields []SpecField) []SpecField {
	for i := range fields {
		f := &fields[i]
		switch f.ptr(&TokenSpec{}).(type) {
		case *string:
			f.Type = "string"
		case *KeyKind:
			f.Type = "kind"
		case *float64:
			f.Type = "score"
		case *bool:
			f.Type = "bool"
		case *time.Duration:
			f.Type = "duration"
		case *time.Time:
			f.Type = "time"
		}
	}
	return fields
}

// allKindsBut lists every key kind except the given ones.
func allKindsBut(not ...KeyKind) []KeyKind {
	return slices.DeleteFunc(KeyKinds(), func(k KeyKind) bool { return slices.Contains(not, k) })
}

// TokenSpecFields lists the fields of [TokenSpec] in the order of its JSON
// form.
func TokenSpecFields() []SpecField {
	out := slices.Clone(tokenSpecFields)
	for i := range out {
		out[i].AppliesTo = slices.Clone(out[i].AppliesTo)
	}
	return out
}

// Set stores v in this field of spec. v has the field's Go type, as in
// TokenSpec: string, KeyKind, float64, bool, time.Duration or time.Time.
func (f SpecField) Set(spec *TokenSpec, v any) error {
	var ok bool
	switch p := f.ptr(spec).(type) {
	case *string:
		ok = setAs(p, v)
	case *KeyKind:
		ok = setAs(p, v)
	case *float64:
		ok = setAs(p, v)
	case *bool:
		ok = setAs(p, v)
	case *time.Duration:
		ok = setAs(p, v)
	case *time.Time:
		ok = setAs(p, v)
	}
	if !ok {
		return fmt.Errorf("token spec field %s holds a %s, not %T", f.Name, f.Type, v)
	}
	return nil
}

func setAs[T any](p *T, v any) bool {
	x, ok := v.(T)
	if ok {
		*p = x
	}
	return ok
}

// toJSON returns the field's JSON value in t, or false when the field is
// left out.
func (f *SpecField) toJSON(t *TokenSpec) (any, bool) {
	switch p := f.ptr(t).(type) {
	case *string:
		return *p, *p != ""
	case *KeyKind:
		return *p, *p != ""
	case *float64:
		if *p == ExactlyZero {
			return 0.0, true
		}
		return *p, *p != 0
	case *bool:
		return *p, *p
	case *time.Duration:
		return p.String(), *p != 0
	case *time.Time:
		return p.Format(time.RFC3339Nano), !p.IsZero()
	}
	return nil, false
}

// newJSON returns a pointer to what the field's JSON value decodes into.
func (f *SpecField) newJSON() any {
	switch f.ptr(&TokenSpec{}).(type) {
	case *KeyKind:
		return new(KeyKind)
	case *float64:
		return new(*float64) // null unsets a score, as in a struct
	case *bool:
		return new(bool)
	}
	return new(string) // strings, and durations and times in text form
}

// fromJSON stores the decoded JSON value w (from newJSON) in t.
func (f *SpecField) fromJSON(t *TokenSpec, w any) error {
	var err error
	switch p := f.ptr(t).(type) {
	case *string:
		*p = *w.(*string)
	case *KeyKind:
		*p = *w.(*KeyKind)
	case *float64:
		if s := *w.(**float64); s != nil {
			*p = *s
			if *p == 0 {
				*p = ExactlyZero
			}
		}
	case *bool:
		*p = *w.(*bool)
	case *time.Duration:
		*p, err = parseDuration(f.Name, *w.(*string))
	case *time.Time:
		if s := *w.(*string); s != "" {
			if *p, err = time.Parse(time.RFC3339Nano, s); err != nil {
				err = fmt.Errorf("%s %q: want RFC 3339, e.g. 2026-01-02T15:04:05Z", f.Name, s)
			}
		}
	}
	return err
}

// MarshalJSON writes the spec with durations as strings and an explicit
// zero score as 0.
func (t TokenSpec) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i := range tokenSpecFields {
		f := &tokenSpecFields[i]
		v, ok := f.toJSON(&t)
		if !ok {
			continue
		}
		val, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, f.Name...)
		b = append(b, `":`...)
		b = append(b, val...)
	}
	return append(b, '}'), nil
}

// UnmarshalJSON reads the JSON form; unknown fields are an error.
func (t *TokenSpec) UnmarshalJSON(b []byte) error {
	var values specJSON
	if err := strictUnmarshal(b, &values); err != nil {
		return err
	}
	var out TokenSpec
	for i, v := range values {
		if v != nil {
			if err := tokenSpecFields[i].fromJSON(&out, v); err != nil {
				return err
			}
		}
	}
	*t = out
	return nil
}

// specJSON holds a spec's JSON values as decoded (see newJSON), indexed as
// tokenSpecFields, before fromJSON checks and converts them: a problem with
// the JSON text comes first, as from a struct.
type specJSON []any

// UnmarshalJSON matches keys as encoding/json matches struct fields: exactly
// or ignoring case, the last of a repeated key winning, the first problem in
// the text reported.
func (w *specJSON) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	// b is one valid JSON value; with UseNumber no number fails to read.
	dec.UseNumber()
	switch tok, _ := dec.Token(); tok {
	case nil:
		*w = nil
		return nil
	case json.Delim('{'):
	default:
		return fmt.Errorf("got JSON %s, want an object such as {\"score\": 0.9}", jsonType(tok))
	}
	values := make(specJSON, len(tokenSpecFields))
	for dec.More() {
		tok, _ := dec.Token()
		key, _ := tok.(string)
		i := slices.IndexFunc(tokenSpecFields, func(f SpecField) bool { return strings.EqualFold(f.Name, key) })
		if i < 0 {
			return fmt.Errorf("json: unknown field %q", key)
		}
		if values[i] == nil {
			values[i] = tokenSpecFields[i].newJSON()
		}
		if err := dec.Decode(values[i]); err != nil {
			var typ *json.UnmarshalTypeError
			if errors.As(err, &typ) {
				typ.Field = tokenSpecFields[i].Name
			}
			return describeJSONError(err)
		}
	}
	*w = values
	return nil
}

// jsonType names the type of a JSON value from its first token.
func jsonType(tok json.Token) string {
	switch tok.(type) {
	case json.Delim:
		return "array" // the only other opening delimiter
	case string:
		return "string"
	case bool:
		return "bool"
	}
	return "number"
}
