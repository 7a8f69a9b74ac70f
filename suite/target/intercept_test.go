package target

import (
	"strings"
	"testing"
)

const interceptTarget = `kind: v2-checkbox
start:
  command: [./backend, --ca, "{{ca_file}}"]
  use_proxy: true
  resolve_providers: true
  env:
    MY_PROXY: "{{proxy_url}}"
    PROVIDER_ADDR: "{{tls_addr}}"
  ready_url: "http://127.0.0.1:{{port}}/healthz"
endpoints:
  - url: "http://127.0.0.1:{{port}}/login"
    hostnames: [shop.example.com]
classify:
  accepted: {status: [200]}
  rejected: {status: [403]}
`

// TestInterceptOptions checks the start options and placeholders of the
// interception: parsed, detected by Intercepts, expanded, and refused by
// Expand when the session has no values for them.
func TestInterceptOptions(t *testing.T) {
	tg, err := Parse([]byte(interceptTarget), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !tg.Start.UseProxy || !tg.Start.ResolveProviders || !tg.Intercepts() {
		t.Fatalf("use_proxy %v, resolve_providers %v, Intercepts %v", tg.Start.UseProxy, tg.Start.ResolveProviders, tg.Intercepts())
	}
	x, err := tg.Expand(Vars{Port: 1234, ProxyURL: "http://127.0.0.1:5000", CAFile: "/ca/ca.pem", TLSAddr: "127.9.8.7:443"})
	if err != nil {
		t.Fatal(err)
	}
	if x.Start.Command[2] != "/ca/ca.pem" || x.Start.Env["MY_PROXY"] != "http://127.0.0.1:5000" || x.Start.Env["PROVIDER_ADDR"] != "127.9.8.7:443" {
		t.Errorf("expanded: %q %q", x.Start.Command, x.Start.Env)
	}
	if _, err := tg.Expand(Vars{Port: 1234}); err == nil || !strings.Contains(err.Error(), "does not intercept") {
		t.Errorf("Expand without interception values: %v", err)
	}

	// Each option alone, or a placeholder alone, makes the session intercept.
	for _, start := range []string{"use_proxy: true", "resolve_providers: true", `env: {X: "{{ca_file}}"}`, `env: {X: "{{tls_addr}}"}`, `dir: "{{proxy_url}}"`} {
		src := strings.Replace(interceptTarget, "  use_proxy: true\n  resolve_providers: true\n  env:\n    MY_PROXY: \"{{proxy_url}}\"\n    PROVIDER_ADDR: \"{{tls_addr}}\"\n", "  "+start+"\n", 1)
		src = strings.Replace(src, `[./backend, --ca, "{{ca_file}}"]`, "[./backend]", 1)
		tg, err := Parse([]byte(src), "x.yaml")
		if err != nil {
			t.Fatalf("%s: %v", start, err)
		}
		if !tg.Intercepts() {
			t.Errorf("%s: Intercepts false", start)
		}
	}
	plain := strings.Replace(interceptTarget, "  use_proxy: true\n  resolve_providers: true\n  env:\n    MY_PROXY: \"{{proxy_url}}\"\n    PROVIDER_ADDR: \"{{tls_addr}}\"\n", "", 1)
	plain = strings.Replace(plain, `[./backend, --ca, "{{ca_file}}"]`, "[./backend]", 1)
	if tg, err := Parse([]byte(plain), "x.yaml"); err != nil || tg.Intercepts() {
		t.Errorf("plain target: Intercepts true or %v", err)
	}
}

func TestInterceptProblems(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"proxy_url in an endpoint", "kind: v2-checkbox\nstart: {command: [x], ready_url: 'http://x/'}\nendpoints:\n  - url: \"{{proxy_url}}/login\"\n    hostnames: [h]\nclassify: {accepted: {status: [200]}, rejected: {status: [403]}}\n",
			"x.yaml:4: endpoints[0].url: {{proxy_url}} is only for the start section (command, dir, env, ready_url): the harness starts the proxy and TLS listener with the backend it starts; for a backend you run yourself, use `siteverify serve --proxy-addr ... --tls-addr ...`"},
		{"ca_file in a header", "kind: v2-checkbox\nstart: {command: [x], ready_url: 'http://x/'}\nendpoints:\n  - url: http://x/\n    hostnames: [h]\n    headers: {X-CA: \"{{ca_file}}\"}\nclassify: {accepted: {status: [200]}, rejected: {status: [403]}}\n",
			`x.yaml:6: endpoints[0].headers["X-CA"]: {{ca_file}} is only for the start section`},
		{"tls_addr without start", "kind: v2-checkbox\nsitekey: a\nsecret: b\npages:\n  - {name: p, url: \"http://{{tls_addr}}/\", form: f, submit: s, success: {selector: a}, rejected: {selector: b}}\nendpoints: [{url: 'http://x/', hostnames: [h]}]\nclassify: {accepted: {status: [200]}, rejected: {status: [403]}}\n",
			"x.yaml:5: pages[0].url: {{tls_addr}} is only for the start section"},
		{"use_proxy not a boolean", "kind: v2-checkbox\nstart: {command: [x], ready_url: 'http://x/', use_proxy: please}\nendpoints: [{url: 'http://x/', hostnames: [h]}]\nclassify: {accepted: {status: [200]}, rejected: {status: [403]}}\n",
			`x.yaml:2: start.use_proxy: want true or false`},
		{"misspelt option", "kind: v2-checkbox\nstart: {command: [x], ready_url: 'http://x/', resolve_provider: true}\nendpoints: [{url: 'http://x/', hostnames: [h]}]\nclassify: {accepted: {status: [200]}, rejected: {status: [403]}}\n",
			`x.yaml:2: start.resolve_provider: unknown field; did you mean "resolve_providers"?`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.Join(problems(t, tc.yaml), "\n")
			if !strings.Contains(got, tc.want) {
				t.Errorf("problems:\n%s\nwant one containing\n%s", got, tc.want)
			}
		})
	}
}
