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
	{"verify_url", "the mock's siteverify URL, e.g. http://127.0.0.1:41234/recaptcha/api/siteverify"},
	{"mock_url", "the mock's base URL, e.g. http://127.0.0.1:41234 (its client script is served under it)"},
	{"secret", "the target's secret (generated when the file gives none)"},
	{"sitekey", "the target's sitekey (generated when the file gives none)"},
	{"port", "a free TCP port on 127.0.0.1 for the backend to listen on (start section only)"},
}

// Vars are the values placeholders expand to.
type Vars struct {
	VerifyURL string
	MockURL   string
	Secret    string
	SiteKey   string
	// Port is 0 when the harness does not start the backend.
	Port int
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
	case "port":
		if v.Port == 0 {
			return "", false
		}
		return strconv.Itoa(v.Port), true
	}
	return "", false
}

var placeholderRE = regexp.MustCompile(`\{\{\s*([A-Za-z0-9_.:-]*)\s*\}\}`)

var sampleVars = Vars{VerifyURL: "http://127.0.0.1:1/recaptcha/api/siteverify", MockURL: "http://127.0.0.1:1",
	Secret: "secret", SiteKey: "sitekey", Port: 1}

func expand(s string, v Vars) string {
	return placeholderRE.ReplaceAllStringFunc(s, func(m string) string {
		name := placeholderRE.FindStringSubmatch(m)[1]
		if val, ok := v.lookup(name); ok {
			return val
		}
		return m
	})
}

// checkPlaceholders reports unknown placeholders, and {{port}} outside a
// target that has a start section.
func (p *parser) checkPlaceholders(t *Target) {
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
			}
		}
	}
	if s := t.Start; s != nil {
		for i, a := range s.Command {
			check(fmt.Sprintf("start.command[%d]", i), a)
		}
		check("start.dir", s.Dir)
		check("start.ready_url", s.ReadyURL)
		for _, k := range slices.Sorted(maps.Keys(s.Env)) {
			check(fmt.Sprintf("start.env[%q]", k), s.Env[k])
		}
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

// Expand returns a copy of t with placeholders replaced by v's values. It
// fails only if v lacks a value a placeholder needs (Port when there is a
// start section).
func (t *Target) Expand(v Vars) (*Target, error) {
	if t.Start != nil && v.Port == 0 && startUses(t.Start, "port") {
		return nil, fmt.Errorf("expand target %s: {{port}} is used but no port was chosen", t.Name)
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
