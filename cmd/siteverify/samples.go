package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/siteverify/siteverify/mockserver"
	"github.com/siteverify/siteverify/suite/target"
	"io"
	"os"
	"slices"
	"strings"
	"text/template"

	"github.com/siteverify/siteverify/fixtures"
)

// runFixtures is `siteverify fixtures`: it prints the sample fixtures file
// the binary carries, so a CI job needs no checkout for the named tokens.
func runFixtures(_ context.Context, args []string, _ func(string) string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		if args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
			fmt.Fprintln(stdout, "usage: siteverify fixtures > mock.yaml\n\nPrints the sample fixtures file (fixtures/mock.yaml): a default site, further sites,\nthe named tokens (human-login, bot, wrong-hostname, expired, ...) and rules (outage, hang, ...).\nsiteverify exec loads it when given no --fixtures.")
			return exitOK
		}
		fmt.Fprintln(stderr, "usage: siteverify fixtures > mock.yaml (it takes no arguments)")
		return exitUsage
	}
	fmt.Fprint(stdout, fixtures.MockYAML())
	return exitOK
}

// starterKinds are the key kinds `siteverify init` has a starter for: every
// provider's.
var starterKinds = func() []string {
	var out []string
	for _, p := range target.Providers() {
		for _, k := range p.KeyKinds() {
			out = append(out, string(k))
		}
	}
	return out
}()

// starterProviders names the providers `siteverify init` writes for.
var starterProviders = func() string {
	var names []string
	for _, p := range target.Providers() {
		names = append(names, p.Name())
	}
	return strings.Join(names, ", ")
}()

func initOptions() []option {
	return []option{
		{flag: "provider", env: "SITEVERIFY_PROVIDER", usage: "the CAPTCHA provider: " + starterProviders + " (default: the kind's; recaptcha)"},
		{flag: "kind", env: "SITEVERIFY_KIND", usage: "key type (default: the provider's first; v3): " + strings.Join(starterKinds, ", ")},
		{flag: "out", usage: "file to write; - for stdout (default target.yaml)"},
		{flag: "force", boolean: true, usage: "overwrite an existing file"},
	}
}

func initUsage(w io.Writer) {
	fmt.Fprint(w, "usage: siteverify init [--kind v3 | --provider hcaptcha | --kind turnstile ...] [--out target.yaml]\n\nWrites a commented starter target file for siteverify conform: fill in how to start\nyour backend and what its endpoint looks like, then run siteverify conform --target FILE.\n\n")
	printOptions(w, initOptions())
}

// runInit is `siteverify init`.
func runInit(_ context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
	o, err := parseOptions("init", initOptions(), args, env)
	if errors.Is(err, flag.ErrHelp) {
		initUsage(stdout)
		return exitOK
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "siteverify init: "+format+"\n", a...)
		return exitUsage
	}
	if err != nil {
		return usageErr("%v", err)
	}
	if len(o.args) > 0 {
		return usageErr("unexpected arguments %q: the file goes in --out", o.args)
	}
	prov := mockserver.ReCAPTCHA
	provName, psrc := o.get("provider")
	if provName != "" {
		p, ok := mockserver.LookupProvider(provName)
		if !ok {
			return usageErr("%s=%q: want one of %s", psrc, provName, starterProviders)
		}
		prov = p
	}
	kind, src := o.get("kind")
	switch {
	case kind == "":
		kind = string(prov.KeyKinds()[0])
	case !slices.Contains(starterKinds, kind):
		return usageErr("%s=%q: want one of %s", src, kind, strings.Join(starterKinds, ", "))
	case provName == "":
		prov = mockserver.KeyKind(kind).Provider()
	case mockserver.KeyKind(kind).Provider() != prov:
		return usageErr("%s=%q is a %s kind, not a %s one; %s kinds: %v", src, kind, mockserver.KeyKind(kind).Provider(), prov, prov, prov.KeyKinds())
	}
	force, err := o.boolean("force")
	if err != nil {
		return usageErr("%v", err)
	}
	text, err := starterTarget(prov, kind)
	if err != nil {
		fmt.Fprintf(stderr, "siteverify init: %v\n", err)
		return exitHarness
	}
	out := o.str("out")
	if out == "" {
		out = "target.yaml"
	}
	if out == "-" {
		fmt.Fprint(stdout, text)
		return exitOK
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(out, flags, 0o644)
	if errors.Is(err, os.ErrExist) {
		return usageErr("%s exists; pass --force to overwrite it, or --out another file", out)
	}
	if err == nil {
		_, err = io.WriteString(f, text)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return usageErr("write %s: %v", out, err)
	}
	fmt.Fprintf(stdout, "wrote %s (%s, kind %s): edit start and endpoints, then run\n  siteverify conform --target %s\n", out, prov, kind, out)
	return exitOK
}

// starterTarget renders the starter target file for a key kind of prov.
func starterTarget(prov *mockserver.Provider, kind string) (string, error) {
	var b bytes.Buffer
	k := mockserver.KeyKind(kind)
	err := starterTemplate.Execute(&b, struct {
		Provider, Kind, EnvPrefix, TokenField, Title string
		V3, Android, Turnstile, Enterprise           bool
		GoogleEnterprise, EnterpriseScore            bool
	}{prov.Name(), kind, strings.ToUpper(strings.ReplaceAll(prov.Name(), "-", "_")), prov.TokenField(), prov.String(),
		k == mockserver.V3, k == mockserver.Android, k == mockserver.TurnstileStandard, k == mockserver.HCaptchaEnterprise,
		prov == mockserver.Enterprise, k == mockserver.EnterpriseScore})
	if err != nil {
		return "", fmt.Errorf("render the starter target: %w", err)
	}
	return b.String(), nil
}

var starterTemplate = template.Must(template.New("target").Parse(`# siteverify target file: how to start your backend and what a protected
# request looks like. Run it with
#
#     siteverify conform --target target.yaml --junit out/conform.xml --html out/conform.html
#
# Every field is documented in the README ("The target file"). Parsing is
# strict: a misspelt field is an error naming the file, line and fix.
name: my-backend
provider: {{.Provider}}
kind: {{.Kind}}
{{- if .GoogleEnterprise}}
project: siteverify-test          # your Google Cloud project ID; {{"{{"}}verify_url{{"}}"}} is its assessments URL
{{- end}}

# How the harness starts your backend (delete this section if it already
# runs; then set sitekey and secret here and point the backend at a running
# siteverify serve). The placeholders are filled in by the harness:
#   {{"{{"}}port{{"}}"}}        a free port on 127.0.0.1 for your backend
#   {{"{{"}}verify_url{{"}}"}}  the mock's siteverify URL: use it instead of {{.Title}}'s
#   {{"{{"}}secret{{"}}"}}      the secret your backend sends (generated)
#   {{"{{"}}sitekey{{"}}"}}     the sitekey your pages use (generated)
start:
  command: [./server, --port, "{{"{{"}}port{{"}}"}}"]   # a path with a slash is relative to dir
  dir: .                          # relative to this file's directory
  env:
    {{.EnvPrefix}}_VERIFY_URL: "{{"{{"}}verify_url{{"}}"}}"
    {{.EnvPrefix}}_SECRET: "{{"{{"}}secret{{"}}"}}"
  ready_url: "http://127.0.0.1:{{"{{"}}port{{"}}"}}/healthz"   # polled until it answers 2xx
  ready_timeout: 30s

# The endpoints that verify a token. The suite sends valid, forged, replayed,
# expired and mismatched tokens to each and checks what the backend answers.
endpoints:
  - url: "http://127.0.0.1:{{"{{"}}port{{"}}"}}/login"
    fields: {username: alice, password: correct-horse-battery-staple}   # the rest of a valid request
    token: {name: {{.TokenField}}}   # the form field that carries the token
{{- if or .V3 .EnterpriseScore}}
    action: login                 # the action your backend expects
    min_score: 0.5                # your threshold
{{- end}}
{{- if .GoogleEnterprise}}
{{- if not .EnterpriseScore}}
    action: login                 # the action your page sets and your backend checks (delete if none)
{{- end}}
    reject_reasons: [AUTOMATION]  # the classification reasons your backend refuses whatever the score ([] if none)
{{- end}}
{{- if .Turnstile}}
    action: login                 # the data-action your page sets and your backend checks (delete if none)
    cdata: ""                     # the data-cdata your backend expects, e.g. a session id ("" if none)
{{- end}}
{{- if .Enterprise}}
    max_score: 0.5                # your risk threshold, on hCaptcha's scale (1 is a bot)
{{- end}}
{{- if .Android}}
    package_names: [com.example.app]   # the apk package names your backend allows
{{- else}}
    hostnames: [app.example.com]  # the hostnames your backend allows; valid tokens use the first
{{- end}}

# What your backend's answers look like.
classify:
  accepted: {status: [200]}
  rejected: {status: [400, 403, 503]}   # include your outage status when you fail closed

# What your backend does when siteverify is down or answers garbage.
outage:
  policy: fail-closed             # fail-closed, fail-open or challenge
  answer_within: 5s               # your siteverify timeout plus your own work
`))
