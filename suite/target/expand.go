package target

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Placeholders lists the placeholders a target file may use, with what they
// stand for. They are allowed in the start section (command, dir, env,
// ready_url), in endpoint and page URLs, in endpoint headers and in string
// values of endpoint fields.
var Placeholders = []struct{ Name, Meaning string }{
	{"verify_url", "the mock's siteverify URL, e.g. http://127.0.0.1:41234/recaptcha/api/siteverify; for reCAPTCHA Enterprise the target project's assessments URL, e.g. http://127.0.0.1:41234/v1/projects/siteverify-test/assessments"},
	{"mock_url", "the mock's base URL, e.g. http://127.0.0.1:41234 (its client script is served under it)"},
	{"secret", "the target's secret (generated when the file gives none)"},
	{"sitekey", "the target's sitekey (generated when the file gives none)"},
	{"project", "the target's reCAPTCHA Enterprise project ID (project; default siteverify-test), for a backend that builds the assessments URL from {{mock_url}} itself; empty for other providers"},
	{"port", "a free TCP port on 127.0.0.1 for the backend to listen on (start section only)"},
	{"proxy_url", "the session's forward proxy, which answers the providers' real hosts from the mock, e.g. http://127.0.0.1:41235 (start section only; start.use_proxy sets HTTPS_PROXY and the others to it)"},
	{"ca_file", "the path of the mock's CA certificate (PEM), for a backend's trust setting, e.g. /root/.cache/siteverify/ca/siteverify-ca.pem (start section only)"},
	{"tls_addr", "host:port of the session's TLS listener, which answers on the providers' host names, e.g. 127.0.0.1:41236, or 127.x.y.z:443 with start.resolve_providers (start section only)"},
}

// interceptPlaceholders are the placeholders whose values exist only when
// the session intercepts the providers' real URLs (which using any of them
// makes it do).
var interceptPlaceholders = []string{"proxy_url", "ca_file", "tls_addr"}

// Vars are the values placeholders expand to.
type Vars struct {
	VerifyURL string
	MockURL   string
	Secret    string
	SiteKey   string
	// Project is the reCAPTCHA Enterprise project ID ("" for other
	// providers).
	Project string
	// Port is 0 when the harness does not start the backend.
	Port int
	// ProxyURL, CAFile and TLSAddr are the interception's proxy URL, CA
	// certificate path and TLS listener address; "" when the session does
	// not intercept.
	ProxyURL, CAFile, TLSAddr string
}

func (v Vars) lookup(name string) (string, bool) {
	switch name {
	case "verify_url":
		return v.VerifyURL, true
	case "mock_url":
		return v.MockURL, true
	case "secret":
		return v.Secret, true
	case "sitekey":
		return v.SiteKey, true
	case "project":
		return v.Project, true
	case "port":
		if v.Port == 0 {
			return "", false
		}
		return strconv.Itoa(v.Port), true
	case "proxy_url":
		return v.ProxyURL, v.ProxyURL != ""
	case "ca_file":
		return v.CAFile, v.CAFile != ""
	case "tls_addr":
		return v.TLSAddr, v.TLSAddr != ""
	}
	return "", false
}

var placeholderRE = regexp.MustCompile(`\{\{\s*([A-Za-z0-9_.:-]*)\s*\}\}`)

var sampleVars = Vars{VerifyURL: "http://127.0.0.1:1/recaptcha/api/siteverify", MockURL: "http://127.0.0.1:1",
	Secret: "secret", SiteKey: "sitekey", Project: "siteverify-test", Port: 1, ProxyURL: "http://127.0.0.1:1", CAFile: "/ca.pem", TLSAddr: "127.0.0.1:1"}

func expand(s string, v Vars) string {
	return placeholderRE.ReplaceAllStringFunc(s, func(m string) string {
		name := placeholderRE.FindStringSubmatch(m)[1]
		if val, ok := v.lookup(name); ok {
			return val
		}
		return m
	})
}

// checkPlaceholders reports unknown placeholders, {{port}} outside a
// target that has a start section, and the interception placeholders
// outside the start section.
func (p *parser) checkPlaceholders(t *Target) {
	inStart := false
	check := func(path, s string) {
		for _, m := range placeholderRE.FindAllStringSubmatch(s, -1) {
			name := m[1]
			if _, ok := sampleVars.lookup(name); !ok {
				var names []string
				for _, ph := range Placeholders {
					names = append(names, "{{"+ph.Name+"}}")
				}
				p.errorf(path, "unknown placeholder %s; use one of %s", m[0], strings.Join(names, ", "))
			} else if name == "port" && t.Start == nil {
				p.errorf(path, "{{port}} needs a start section (the harness picks the port when it starts the backend); write the backend's real port")
			} else if slices.Contains(interceptPlaceholders, name) && !inStart {
				p.errorf(path, "{{%s}} is only for the start section (command, dir, env, ready_url): the harness starts the proxy and TLS listener with the backend it starts; for a backend you run yourself, use `siteverify serve --proxy-addr ... --tls-addr ...`", name)
			}
		}
	}
	if s := t.Start; s != nil {
		inStart = true
		for i, a := range s.Command {
			check(fmt.Sprintf("start.command[%d]", i), a)
		}
		check("start.dir", s.Dir)
		check("start.ready_url", s.ReadyURL)
		for _, k := range slices.Sorted(maps.Keys(s.Env)) {
			check(fmt.Sprintf("start.env[%q]", k), s.Env[k])
		}
		inStart = false
	}
	for i, ep := range t.Endpoints {
		path := fmt.Sprintf("endpoints[%d]", i)
		check(path+".url", ep.URL)
		for k, v := range ep.Headers {
			check(fmt.Sprintf("%s.headers[%q]", path, k), v)
		}
		for k, v := range ep.Fields {
			if s, ok := v.(string); ok {
				check(fmt.Sprintf("%s.fields[%q]", path, k), s)
			}
		}
	}
	for i, pg := range t.Pages {
		check(fmt.Sprintf("pages[%d].url", i), pg.URL)
	}
}

// Intercepts reports whether the target needs the session to intercept the
// providers' real URLs: its start section sets use_proxy or
// resolve_providers, or uses {{proxy_url}}, {{ca_file}} or {{tls_addr}}.
func (t *Target) Intercepts() bool {
	s := t.Start
	if s == nil {
		return false
	}
	if s.UseProxy || s.ResolveProviders {
		return true
	}
	for _, name := range interceptPlaceholders {
		if startUses(s, name) {
			return true
		}
	}
	return false
}

// Expand returns a copy of t with placeholders replaced by v's values. It
// fails only if v lacks a value a placeholder needs (Port when there is a
// start section; ProxyURL, CAFile or TLSAddr when the start section uses
// them).
func (t *Target) Expand(v Vars) (*Target, error) {
	if t.Start != nil && v.Port == 0 && startUses(t.Start, "port") {
		return nil, fmt.Errorf("expand target %s: {{port}} is used but no port was chosen", t.Name)
	}
	if t.Start != nil {
		for _, name := range interceptPlaceholders {
			if _, ok := v.lookup(name); !ok && startUses(t.Start, name) {
				return nil, fmt.Errorf("expand target %s: {{%s}} is used but the session does not intercept the providers' URLs", t.Name, name)
			}
		}
	}
	out := *t
	out.lines = t.lines
	if t.Start != nil {
		s := *t.Start
		s.Command = make([]string, len(t.Start.Command))
		for i, a := range t.Start.Command {
			s.Command[i] = expand(a, v)
		}
		s.Dir = expand(s.Dir, v)
		s.ReadyURL = expand(s.ReadyURL, v)
		s.Env = make(map[string]string, len(t.Start.Env))
		for k, val := range t.Start.Env {
			s.Env[k] = expand(val, v)
		}
		out.Start = &s
	}
	out.Endpoints = make([]Endpoint, len(t.Endpoints))
	for i, ep := range t.Endpoints {
		ep.URL = expand(ep.URL, v)
		if ep.Headers != nil {
			h := make(map[string]string, len(ep.Headers))
			for k, val := range ep.Headers {
				h[k] = expand(val, v)
			}
			ep.Headers = h
		}
		if ep.Fields != nil {
			f := make(map[string]any, len(ep.Fields))
			for k, val := range ep.Fields {
				if s, ok := val.(string); ok {
					val = expand(s, v)
				}
				f[k] = val
			}
			ep.Fields = f
		}
		out.Endpoints[i] = ep
	}
	out.Pages = make([]Page, len(t.Pages))
	for i, pg := range t.Pages {
		pg.URL = expand(pg.URL, v)
		out.Pages[i] = pg
	}
	return &out, nil
}
