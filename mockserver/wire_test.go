package mockserver_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/siteverify/siteverify/mockserver"
)

// TokenSpec's JSON form: durations as Go strings, a zero score as 0 and the
// default score as absent; and back again to the same spec.
func TestTokenSpecJSONRoundTrip(t *testing.T) {
	at := time.Date(2026, 1, 2, 15, 4, 5, 500, time.UTC)
	for _, tc := range []struct {
		spec mockserver.TokenSpec
		json string
	}{
		{mockserver.TokenSpec{}, `{}`},
		{mockserver.TokenSpec{Score: mockserver.ExactlyZero}, `{"score":0}`},
		{mockserver.TokenSpec{Score: 0.3, OmitScore: true, Action: "login", SiteKey: "6Lk", Kind: mockserver.V3, Hostname: "h.example", PackageName: "com.example"},
			`{"sitekey":"6Lk","kind":"v3","score":0.3,"omit_score":true,"action":"login","hostname":"h.example","apk_package_name":"com.example"}`},
		{mockserver.TokenSpec{IssuedAt: at, IssuedAgo: 90 * time.Second, Lifetime: 3 * time.Minute},
			`{"issued_at":"2026-01-02T15:04:05.0000005Z","issued_ago":"1m30s","lifetime":"3m0s"}`},
		{mockserver.TokenSpec{IssuedAgo: time.Nanosecond}, `{"issued_ago":"1ns"}`},
	} {
		b, err := json.Marshal(tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tc.json {
			t.Errorf("Marshal(%+v) = %s, want %s", tc.spec, b, tc.json)
		}
		var back mockserver.TokenSpec
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("Unmarshal(%s): %v", b, err)
		}
		if !back.IssuedAt.Equal(tc.spec.IssuedAt) {
			t.Errorf("issued_at %v came back as %v", tc.spec.IssuedAt, back.IssuedAt)
		}
		back.IssuedAt = tc.spec.IssuedAt
		if back != tc.spec {
			t.Errorf("Unmarshal(%s) = %+v, want %+v", b, back, tc.spec)
		}
	}
}

// Durations may be Go strings or bare nanoseconds; bad input is an error
// that names the field and the problem.
func TestTokenSpecJSONInput(t *testing.T) {
	for in, want := range map[string]mockserver.TokenSpec{
		`{"lifetime": "90s", "issued_ago": "1m"}`:        {Lifetime: 90 * time.Second, IssuedAgo: time.Minute},
		`{"lifetime": "90000000000", "issued_ago": "0"}`: {Lifetime: 90 * time.Second},
		`{"score": 0.5}`: {Score: 0.5},
		`{"score": 0}`:   {Score: mockserver.ExactlyZero},
		`{"issued_at": "2026-01-02T15:04:05Z", "score": 1}  `: {IssuedAt: time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC), Score: 1},
	} {
		var got mockserver.TokenSpec
		if err := json.Unmarshal([]byte(in), &got); err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if !got.IssuedAt.Equal(want.IssuedAt) {
			t.Errorf("%s: issued_at %v, want %v", in, got.IssuedAt, want.IssuedAt)
		}
		got.IssuedAt = want.IssuedAt
		if got != want {
			t.Errorf("%s: %+v, want %+v", in, got, want)
		}
	}
	for in, want := range map[string]string{
		`{"lifetime": "soon"}`:       `lifetime "soon": want a duration`,
		`{"issued_ago": "ago"}`:      `issued_ago "ago": want a duration`,
		`{"issued_at": "yesterday"}`: `issued_at "yesterday": want RFC 3339`,
		`{"bogus": 1}`:               `unknown field "bogus"`,
		`{"score": "high"}`:          `field "score": got JSON string`,
		`{"action": "a"} {}`:         `unexpected data after the JSON value`,
		`{"action": `:                `the body ends before the value does`,
		``:                           `empty body`,
		`{"action" "a"}`:             `invalid JSON at byte`,
	} {
		var spec mockserver.TokenSpec
		err := spec.UnmarshalJSON([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error containing %q", in, err, want)
		}
		if spec != (mockserver.TokenSpec{}) {
			t.Errorf("%q: a failed decode changed the spec to %+v", in, spec)
		}
	}
}

// A named token decodes strictly too.
func TestNamedTokenJSON(t *testing.T) {
	var nt mockserver.NamedToken
	if err := json.Unmarshal([]byte(`{"token": "human", "reusable": true, "spec": {"score": 0, "lifetime": "1h"}}`), &nt); err != nil {
		t.Fatal(err)
	}
	if nt.Token != "human" || !nt.Reusable || nt.Spec.Score != mockserver.ExactlyZero || nt.Spec.Lifetime != time.Hour {
		t.Fatalf("decoded %+v", nt)
	}
	for _, in := range []string{`{"token": "x", "spare": 1}`, `{"token": "x"} 1`, `{"token": "x", "spec": {"lifetime": "soon"}}`} {
		var nt mockserver.NamedToken
		if err := json.Unmarshal([]byte(in), &nt); err == nil {
			t.Errorf("%s: decoded to %+v, want an error", in, nt)
		}
	}
}
