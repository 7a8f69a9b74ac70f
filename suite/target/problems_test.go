package target

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

// problems parses src and returns its problems, one string each, with the
// lists of known fields (which grow with the format) shortened to "(known: …)".
func problems(t *testing.T, src string) []string {
	t.Helper()
	_, err := Parse([]byte(src), "x.yaml")
	if err == nil {
		return nil
	}
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("error %T is not target.Errors: %v", err, err)
	}
	known := regexp.MustCompile(`\(known: [^)]*\)`)
	var out []string
	for _, e := range es {
		out = append(out, known.ReplaceAllString(e.Error(), "(known: …)"))
	}
	return out
}

// TestParseEveryProblemAtOnce checks that one Parse reports unknown fields,
// wrong types and wrong values together (no waves), each once, and nothing
// that only follows from another problem: the typo "acton" does not also
// make action "required", a hostnames string does not make hostnames
// "required", an unknown placeholder does not make the URL "invalid".
func TestParseEveryProblemAtOnce(t *testing.T) {
	src := `kind: v3
sitekey: 6LcSiteKeyForTests000000000000000000000a
secret: 6LcSecretForTests0000000000000000000000b
colour: red
endpoints:
  - url: "http://127.0.0.1:8080/api/login"
    acton: login
    hostnames: shop.example.com
    min_score: high
    token: {in: cookie}
  - url: "http://127.0.0.1:8080/{{prot}}"
    action: contact
    hostnames: [shop.example.com]
    method: FETCH
classify:
  accepted: {status: [200]}
  rejected: {status: [403, 1000]}
outage:
  policy: fail-safe
  answer_within: soon
`
	want := []string{
		`x.yaml:4: colour: unknown field (known: …)`,
		`x.yaml:7: endpoints[0].acton: unknown field; did you mean "action"? (known: …)`,
		`x.yaml:8: endpoints[0].hostnames: want a list, got "shop.example.com" (a string)`,
		`x.yaml:9: endpoints[0].min_score: want a number, got "high" (a string)`,
		`x.yaml:10: endpoints[0].token.in: unknown value "cookie"; use one of field, header`,
		`x.yaml:11: endpoints[1].url: unknown placeholder {{prot}}; use one of {{verify_url}}, {{mock_url}}, {{secret}}, {{sitekey}}, {{project}}, {{port}}, {{proxy_url}}, {{ca_file}}, {{tls_addr}}`,
		`x.yaml:14: endpoints[1].method: unsupported method "FETCH"; use GET, POST, PUT, PATCH or DELETE`,
		`x.yaml:17: classify.rejected.status[1]: 1000 is not an HTTP status (100-599)`,
		`x.yaml:19: outage.policy: unknown policy "fail-safe"; use one of fail-closed, fail-open, challenge`,
		`x.yaml:20: outage.answer_within: want a duration such as "3s" or "1m30s", got "soon" (a string)`,
	}
	got := problems(t, src)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got %d problems:\n%s\nwant %d:\n%s", len(got), strings.Join(got, "\n"), len(want), strings.Join(want, "\n"))
	}
}

// TestParseNoFollowOnErrors takes the good file, breaks one thing, and
// expects exactly one problem: the one to fix.
func TestParseNoFollowOnErrors(t *testing.T) {
	tests := []struct {
		name, old, new, want string
	}{
		{"unknown kind", "kind: v3\n", "kind: v4\n",
			`x.yaml:3: kind: unknown Google reCAPTCHA kind "v4"; use one of v3, v2-checkbox, v2-invisible, android`},
		{"kind of the wrong type", "kind: v3\n", "kind: [v3]\n",
			`x.yaml:3: kind: want a string, got a list`},
		{"typo in endpoints", "\nendpoints:\n", "\nendpoint:\n",
			`x.yaml:11: endpoint: unknown field; did you mean "endpoints"? (known: …)`},
		{"typo in classify", "\nclassify:\n", "\nclassfy:\n",
			`x.yaml:28: classfy: unknown field; did you mean "classify"? (known: …)`},
		{"start without command", "  command: [python3, app.py, --port, \"{{port}}\"]\n", "",
			`x.yaml:6: start.command: required: the program and its arguments, e.g. [python3, app.py, --port, "{{port}}"]`},
		{"env of the wrong shape", "  env:\n    RECAPTCHA_VERIFY_URL: \"{{verify_url}}\"\n    RECAPTCHA_SECRET: \"{{secret}}\"\n", "  env: [a, b]\n",
			`x.yaml:8: start.env: want a mapping such as {name: value}, got a list`},
		{"unknown placeholder", `url: "http://127.0.0.1:{{port}}/contact"`, `url: "http://127.0.0.1:{{prot}}/contact"`,
			`x.yaml:19: endpoints[1].url: unknown placeholder {{prot}}; use one of`},
		{"unknown body", "    body: json\n", "    body: xml\n",
			`x.yaml:13: endpoints[0].body: unknown body "xml"; use one of form, json, query`},
		{"typo in hostnames", "    hostnames: [shop.example.com]\n  - name: contact", "    hostname: [shop.example.com]\n  - name: contact",
			`x.yaml:16: endpoints[0].hostname: unknown field; did you mean "hostnames"? (known: …)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if strings.Count(good, tc.old) != 1 {
				t.Fatalf("%q is not once in the good file", tc.old)
			}
			got := problems(t, strings.Replace(good, tc.old, tc.new, 1))
			if len(got) != 1 || !strings.HasPrefix(got[0], tc.want) {
				t.Errorf("got %d problems:\n%s\nwant exactly one, starting %s", len(got), strings.Join(got, "\n"), tc.want)
			}
		})
	}
}
