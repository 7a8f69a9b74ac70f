package fixturefile_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/siteverify/siteverify/mockserver/fixturefile"
)

// TestParseErrors covers every problem Parse reports: each must name the
// file, the line, the field and the fix.
func TestParseErrors(t *testing.T) {
	long := strings.Repeat("x", 300)
	cases := []struct {
		name  string
		src   string
		line  int
		field string
		msg   string // a substring of Error.Msg
	}{
		// The file as a whole.
		{"yaml syntax", "tokens:\n  - token: a\n   bad: [\n", 3, "", "invalid YAML: "},
		{"tab indent", "tokens:\n\t- token: a\n", 2, "", "invalid YAML: found character that cannot start any token"},
		{"second document", "tokens: []\n---\nrules: []\n", 2, "", "a second YAML document (after ---); put everything in one document"},
		{"top is a list", "- token: a\n", 1, "", "want a mapping such as default_site: {...}, tokens: [...], got a list"},
		{"top is a scalar", "hello\n", 1, "", `want a mapping such as default_site: {...}, tokens: [...], got "hello" (a string)`},
		{"unknown top key", "token:\n  - {token: a}\n", 1, "token", `unknown field; did you mean "tokens"? (known: default_site, sites, tokens, rules)`},
		{"top key twice", "tokens: []\ntokens: []\n", 2, "tokens", "set twice (first on line 1); keep one"},
		{"complex key", "? [a]\n: b\n", 1, "", "a key must be a plain name, got a list"},

		// Merge keys.
		{"merge scalar", "default_site: {<<: 5}\n", 1, "default_site.<<", `a merge key needs a mapping or a list of mappings, got "5" (an integer)`},
		{"merge list of scalars", "default_site: {<<: [a]}\n", 1, "default_site.<<", "a merge key needs a mapping or a list of mappings"},
		{"merged unknown field", "tokens:\n  - {token: a, spec: {<<: {scor: 1}}}\n", 2, "tokens[0].spec.scor", `unknown field; did you mean "score"?`},
		{"merge self", "default_site: &a {kind: v3, <<: *a}\n", 1, "", "alias *a names a node that contains it; a value cannot include itself"},

		// Sites.
		{"default_site scalar", "default_site: v3\n", 1, "default_site", `want a mapping such as {sitekey: 6Lc..., secret: 6Lc..., kind: v3}, got "v3" (a string)`},
		{"site unknown field", "sites:\n  - {sitekey: a, secret: b, site_key: c}\n", 2, "sites[0].site_key", "unknown field; did you mean \"sitekey\"? (known: sitekey, secret, kind, hostname, apk_package_name, accept_any_token, project, testing_score); the field is sitekey"},
		{"sites not a list", "sites: {sitekey: a}\n", 1, "sites", "want a list such as [{sitekey: ..., secret: ...}], got a mapping"},
		{"testing_score out of range", "default_site: {kind: recaptcha-enterprise, testing_score: 1.5}\n", 1, "default_site.testing_score", "1.5 is outside [0, 1]"},
		{"site missing sitekey", "sites:\n  - secret: b\n", 2, "sites[0].sitekey", "required: the public key pages use, e.g. sitekey: 6Lc..."},
		{"site missing secret", "sites:\n  - sitekey: a\n", 2, "sites[0].secret", "required: the private key backends send, e.g. secret: 6Lc..."},
		{"site secret null", "sites:\n  - {sitekey: a, secret: ~}\n", 2, "sites[0].secret", "required"},
		{"sitekey too long", "default_site: {sitekey: " + long + "}\n", 1, "default_site.sitekey", "300 characters, more than 256"},
		{"secret spaces", "default_site: {secret: ' 6Lc '}\n", 1, "default_site.secret", "has leading or trailing spaces; remove them"},
		{"secret is sitekey", "default_site: {sitekey: a, secret: a}\n", 1, "default_site.secret", "the same as the sitekey; a secret must differ from its sitekey"},
		{"test keys", "sites:\n  - {sitekey: 6LeIxAcTAAAAAJcZVRqyHh71UMIEGNQ_MXjiZKhI, secret: x}\n", 2, "sites[0]", "Google's test key pair is built in"},
		{"site kind", "default_site: {kind: v2}\n", 1, "default_site.kind", `"v2" is not a key kind; did you mean "v3"? (want one of v3, v2-checkbox, v2-invisible, android, hcaptcha, hcaptcha-enterprise, turnstile, recaptcha-enterprise, recaptcha-enterprise-checkbox)`},
		{"site kind list", "default_site: {kind: [v3]}\n", 1, "default_site.kind", "want a string, got a list"},
		{"hostname too long", "default_site: {hostname: " + long + "}\n", 1, "default_site.hostname", "300 bytes, more than 255"},
		{"package too long", "default_site: {apk_package_name: " + long + "}\n", 1, "default_site.apk_package_name", "300 bytes, more than 255"},
		{"accept_any_token yes", "default_site: {accept_any_token: yes}\n", 1, "default_site.accept_any_token", `want true or false, got "yes" (a string)`},
		{"duplicate sitekey", "default_site: {sitekey: a, secret: b}\nsites:\n  - {sitekey: a, secret: c}\n", 3, "sites[0].sitekey", "already the sitekey of default_site (line 1); each site needs its own"},
		{"duplicate secret", "sites:\n  - {sitekey: a, secret: s}\n  - {sitekey: b, secret: s}\n", 3, "sites[1].secret", "already the secret of sites[0] (line 2); each site needs its own"},

		// Named tokens.
		{"token not mapping", "tokens:\n  - human\n", 2, "tokens[0]", `want a mapping such as {token: human, spec: {score: 0.9}}, got "human" (a string)`},
		{"token missing", "tokens:\n  - {reusable: true}\n", 2, "tokens[0].token", "required: the exact string clients send as response, e.g. token: human-login"},
		{"token empty", "tokens:\n  - {token: ''}\n", 2, "tokens[0].token", "empty; give the string clients send as response"},
		{"token too long", "tokens:\n  - {token: " + strings.Repeat("t", 4097) + "}\n", 2, "tokens[0].token", "4097 characters, more than 4096"},
		{"token unknown field", "tokens:\n  - {token: a, reuseable: true}\n", 2, "tokens[0].reuseable", `unknown field; did you mean "reusable"?`},
		{"reusable string", "tokens:\n  - {token: a, reusable: 'true'}\n", 2, "tokens[0].reusable", `want true or false, got "true" (a string)`},
		{"duplicate token", "tokens:\n  - {token: a}\n  - {token: b}\n  - {token: a}\n", 4, "tokens[2].token", `"a" is already a token (line 2); names must be unique`},
		{"spec scalar", "tokens:\n  - {token: a, spec: v3}\n", 2, "tokens[0].spec", "want a mapping such as {kind: v3, score: 0.9, action: login}"},
		{"spec unknown field", "tokens:\n  - token: a\n    spec:\n      kind: v3\n      scor: 0.5\n", 5, "tokens[0].spec.scor", `unknown field; did you mean "score"? (known: sitekey, kind, score, omit_score, action, cdata, hostname, apk_package_name, issued_ago, lifetime, reasons)`},
		{"spec issued_at", "tokens:\n  - {token: a, spec: {issued_at: 2026-01-02T15:04:05Z}}\n", 2, "tokens[0].spec.issued_at", "so use issued_ago"},
		{"spec kind", "tokens:\n  - {token: a, spec: {kind: V3}}\n", 2, "tokens[0].spec.kind", `"V3" is not a key kind; did you mean "v3"?`},
		{"score text", "tokens:\n  - {token: a, spec: {score: high}}\n", 2, "tokens[0].spec.score", `want a number from 0 to 1, got "high" (a string)`},
		{"score quoted", "tokens:\n  - {token: a, spec: {score: '0.5'}}\n", 2, "tokens[0].spec.score", `want a number from 0 to 1, got "0.5" (a string)`},
		{"score high", "tokens:\n  - {token: a, spec: {score: 1.5}}\n", 2, "tokens[0].spec.score", "1.5 is outside [0, 1]; v3 scores run from 0.0 (bot) to 1.0 (human)"},
		{"score negative", "tokens:\n  - {token: a, spec: {score: -1}}\n", 2, "tokens[0].spec.score", "-1 is outside [0, 1]"},
		{"score nan", "tokens:\n  - {token: a, spec: {score: .nan}}\n", 2, "tokens[0].spec.score", "NaN is outside [0, 1]"},
		{"omit_score string", "tokens:\n  - {token: a, spec: {omit_score: 1}}\n", 2, "tokens[0].spec.omit_score", "want true or false"},
		{"issued_ago number", "tokens:\n  - {token: a, spec: {issued_ago: 300}}\n", 2, "tokens[0].spec.issued_ago", `want a duration such as "90s" or "5m", got "300" (an integer) (a bare number has no unit)`},
		{"issued_ago words", "tokens:\n  - {token: a, spec: {issued_ago: 5 minutes}}\n", 2, "tokens[0].spec.issued_ago", `want a duration such as "90s" or "5m", got "5 minutes" (a string)`},
		{"issued_ago negative", "tokens:\n  - {token: a, spec: {issued_ago: -5m}}\n", 2, "tokens[0].spec.issued_ago", "-5m0s is negative; a token cannot be issued in the future"},
		{"lifetime long", "tokens:\n  - {token: a, spec: {lifetime: 25h}}\n", 2, "tokens[0].spec.lifetime", "25h0m0s: want between 0 (default 2m0s) and 24h0m0s"},
		{"lifetime negative", "tokens:\n  - {token: a, spec: {lifetime: -1s}}\n", 2, "tokens[0].spec.lifetime", "-1s: want between 0"},
		{"action too long", "tokens:\n  - {token: a, spec: {action: " + long + "}}\n", 2, "tokens[0].spec.action", "300 bytes, more than 255"},
		{"spec sitekey unknown", "tokens:\n  - {token: a, spec: {sitekey: nope}}\n", 2, "tokens[0].spec.sitekey", `"nope" is not the sitekey of a site in this file; define it under sites, or leave sitekey out for the default site`},
		{"accept any token", "default_site: {accept_any_token: true}\ntokens:\n  - {token: a}\n", 3, "tokens[0]", "default_site has accept_any_token, so it never looks at named tokens"},
		{"score on v2", "sites:\n  - {sitekey: a, secret: b, kind: v2-checkbox}\ntokens:\n  - {token: t, spec: {sitekey: a, score: 0.5}}\n", 4, "tokens[0].spec.score", "only v3 answers carry it, and this token is v2-checkbox; remove it or set kind: v3"},
		{"action on android", "tokens:\n  - {token: t, spec: {kind: android, action: login}}\n", 2, "tokens[0].spec.action", "only v3 answers carry it, and this token is android"},
		{"omit_score on v2", "tokens:\n  - {token: t, spec: {kind: v2-invisible, omit_score: true}}\n", 2, "tokens[0].spec.omit_score", "only v3 answers carry it"},
		{"package on v3", "tokens:\n  - {token: t, spec: {apk_package_name: com.x}}\n", 2, "tokens[0].spec.apk_package_name", "only android answers carry it, and this token is v3"},
		{"hostname on android", "tokens:\n  - {token: t, spec: {kind: android, hostname: x}}\n", 2, "tokens[0].spec.hostname", "android answers carry apk_package_name, not hostname"},
		{"too many tokens", "tokens: [" + strings.Repeat("{token: a},", 10001) + "]\n", 1, "tokens", "10001 items, more than the 10000 allowed"},

		// Rules.
		{"rule scalar", "rules:\n  - outage\n", 2, "rules[0]", "want a mapping such as {match: {token: outage}, fault: html-error}"},
		{"rule unknown field", "rules:\n  - {fault: hang, delays: 1s}\n", 2, "rules[0].delays", `unknown field; did you mean "delay"? (known: id, match, times, fault, status, body, content_type, error_codes, delay, spend)`},
		{"fault unknown", "rules:\n  - match: {token: x}\n    fault: hangs\n", 3, "rules[0].fault", `"hangs" is not a fault; did you mean "hang"? (want one of hang, close, reset, malformed-json, truncate, html-error)`},
		{"fault far off", "rules:\n  - {fault: explode}\n", 2, "rules[0].fault", `"explode" is not a fault (want one of hang, close`},
		{"match scalar", "rules:\n  - {match: outage, fault: close}\n", 2, "rules[0].match", "want a mapping such as {token: outage}"},
		{"match unknown field", "rules:\n  - {match: {response: x}, fault: close}\n", 2, "rules[0].match.response", "unknown field (known: token, secret, remoteip)"},
		{"times word", "rules:\n  - {fault: close, times: forever}\n", 2, "rules[0].times", `want a whole number: a count, 0 (once) or -1 (forever), got "forever" (a string)`},
		{"times float", "rules:\n  - {fault: close, times: 1.5}\n", 2, "rules[0].times", "want a whole number"},
		{"times -2", "rules:\n  - {fault: close, times: -2}\n", 2, "rules[0].times", "-2: want a count, 0 (once) or -1 (forever)"},
		{"status huge", "rules:\n  - {status: 99999999999}\n", 2, "rules[0].status", "want an HTTP status such as 503"},
		{"status 600", "rules:\n  - {status: 600}\n", 2, "rules[0].status", "600 is not an HTTP status (100-599)"},
		{"delay long", "rules:\n  - {delay: 11m}\n", 2, "rules[0].delay", "11m0s: want between 0 and 10m0s"},
		{"delay negative", "rules:\n  - {delay: -1s}\n", 2, "rules[0].delay", "-1s: want between 0 and 10m0s"},
		{"delay number", "rules:\n  - {delay: 30}\n", 2, "rules[0].delay", "a bare number has no unit"},
		{"body too long", "rules:\n  - {body: " + strings.Repeat("b", 65537) + "}\n", 2, "rules[0].body", "65537 bytes, more than 65536"},
		{"id empty", "rules:\n  - {id: '', fault: close}\n", 2, "rules[0].id", "empty; leave id out and the server numbers the rule"},
		{"id auto", "rules:\n  - {id: r7, fault: close}\n", 2, "rules[0].id", `"r7" looks like the IDs the server assigns (r1, r2, ...); choose a name such as outage`},
		{"id chars", "rules:\n  - {id: 'a/b', fault: close}\n", 2, "rules[0].id", `"a/b": use 1 to 64 letters, digits`},
		{"id duplicate", "rules:\n  - {id: x, fault: close}\n  - {id: x, fault: reset}\n", 3, "rules[1].id", `"x" is already a rule id (line 2); ids must be unique`},
		{"fault and body", "rules:\n  - {fault: close, body: x}\n", 2, "rules[0].body", "a rule with a fault sends no body; remove body or fault"},
		{"fault and codes", "rules:\n  - {fault: close, error_codes: [x]}\n", 2, "rules[0].error_codes", "a rule with a fault sends no error codes"},
		{"fault and status", "rules:\n  - {fault: close, status: 500}\n", 2, "rules[0].status", "only fault html-error sends a status; remove status"},
		{"body and codes", "rules:\n  - {body: x, error_codes: [y]}\n", 2, "rules[0].error_codes", "body wins over error_codes; keep one"},
		{"content_type alone", "rules:\n  - {status: 500, content_type: text/plain}\n", 2, "rules[0].content_type", "applies only with body"},
		{"does nothing", "rules:\n  - match: {token: x}\n    times: 2\n", 2, "rules[0]", "does nothing: set fault, body, error_codes, status or delay"},
		{"error_codes scalar", "rules:\n  - {error_codes: bad-request}\n", 2, "rules[0].error_codes", `want a list such as [timeout-or-duplicate], got "bad-request" (a string)`},
		{"error_codes null item", "rules:\n  - error_codes:\n      - a\n      - ~\n", 4, "rules[0].error_codes[1]", "want an error code such as timeout-or-duplicate, got \"~\" (null)"},
		{"error_codes list item", "rules:\n  - {error_codes: [[a]]}\n", 2, "rules[0].error_codes[0]", "want an error code such as timeout-or-duplicate, got a list"},
		{"error_codes too many", "rules:\n  - {error_codes: [a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a]}\n", 2, "rules[0].error_codes", "17 items, more than the 16 allowed"},
	}
	seen := map[string]bool{}
	for _, c := range cases {
		if seen[c.name] {
			t.Fatalf("duplicate case name %q", c.name)
		}
		seen[c.name] = true
		t.Run(c.name, func(t *testing.T) {
			_, err := fixturefile.Parse("fixtures.yaml", []byte(c.src))
			if err == nil {
				t.Fatalf("no error; want %s", c.msg)
			}
			var fe *fixturefile.Error
			if !errors.As(err, &fe) {
				t.Fatalf("error %v (%T) is not a *fixturefile.Error", err, err)
			}
			if fe.File != "fixtures.yaml" || fe.Line != c.line || fe.Field != c.field || !strings.Contains(fe.Msg, c.msg) {
				t.Errorf("got  %s:%d: [%s] %s\nwant %s:%d: [%s] ...%s...", fe.File, fe.Line, fe.Field, fe.Msg, "fixtures.yaml", c.line, c.field, c.msg)
			}
			if !strings.HasPrefix(err.Error(), "fixtures.yaml:") {
				t.Errorf("message does not start with the file name: %v", err)
			}
		})
	}
}

// TestParseErrorFormat pins the whole message for the two examples in the
// package documentation.
func TestParseErrorFormat(t *testing.T) {
	src := "tokens:\n  - token: a\n  - token: b\n    spec:\n      kind: v3\n      scor: 0.9\nrules:\n  - match: {token: outage}\n    fault: hangs\n"
	_, err := fixturefile.Parse("fixtures.yaml", []byte(src))
	want := `fixtures.yaml:6: tokens[1].spec.scor: unknown field; did you mean "score"? (known: sitekey, kind, score, omit_score, action, cdata, hostname, apk_package_name, issued_ago, lifetime, reasons)
fixtures.yaml:9: rules[0].fault: "hangs" is not a fault; did you mean "hang"? (want one of hang, close, reset, malformed-json, truncate, html-error)`
	if err == nil || err.Error() != want {
		t.Errorf("got:\n%v\nwant:\n%s", err, want)
	}
}

func TestParseErrorLimit(t *testing.T) {
	src := "rules:\n" + strings.Repeat("  - {fault: nope}\n", 15)
	_, err := fixturefile.Parse("many.yaml", []byte(src))
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 11 || lines[10] != "many.yaml: 5 more problems not shown" {
		t.Errorf("got %d lines, last %q; want 10 problems and a count of the rest", len(lines), lines[len(lines)-1])
	}
	var fe *fixturefile.Error
	if !errors.As(err, &fe) || fe.Line != 2 {
		t.Errorf("first problem: %+v", fe)
	}
}

// TestParseNoEchoes checks that cross-checks wait for a file without
// structural problems: a typo in a site must not also be reported as every
// token that points at it.
func TestParseNoEchoes(t *testing.T) {
	src := "sites:\n  - {sitekey: a, secret: b, kindd: v3}\ntokens:\n  - {token: t, spec: {sitekey: a}}\n"
	_, err := fixturefile.Parse("f.yaml", []byte(src))
	if err == nil || strings.Count(err.Error(), "\n") != 0 || !strings.Contains(err.Error(), "sites[0].kindd") {
		t.Errorf("got %v; want exactly the unknown field", err)
	}
}

func TestErrorString(t *testing.T) {
	for _, c := range []struct {
		e    fixturefile.Error
		want string
	}{
		{fixturefile.Error{File: "f.yaml", Line: 3, Field: "rules[0].fault", Msg: "bad"}, "f.yaml:3: rules[0].fault: bad"},
		{fixturefile.Error{File: "f.yaml", Line: 3, Msg: "bad"}, "f.yaml:3: bad"},
		{fixturefile.Error{File: "f.yaml", Msg: "bad"}, "f.yaml: bad"},
	} {
		if got := c.e.Error(); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
}

// TestErrorsNeverEchoSecrets checks that no message about a secret repeats
// it: error output ends up in CI logs.
func TestErrorsNeverEchoSecrets(t *testing.T) {
	const secret = "S3cretValue0123456789"
	for _, src := range []string{
		"default_site: {secret: ' " + secret + "'}\n",
		"default_site: {sitekey: " + secret + ", secret: " + secret + "}\n",
		"default_site: {secret: " + secret + strings.Repeat("x", 300) + "}\n",
		"sites:\n  - {sitekey: a, secret: " + secret + "}\n  - {sitekey: b, secret: " + secret + "}\n",
		"default_site: {secret: " + secret + ", secrett: x}\n",
	} {
		_, err := fixturefile.Parse("f.yaml", []byte(src))
		if err == nil {
			t.Errorf("%q: no error", src)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("message repeats the secret: %v", err)
		}
	}
}
