// Package fixturefile reads a YAML fixtures file into the parts of
// [mockserver.Options] that describe state: the default site, further sites,
// named tokens and scripted rules. `siteverify serve --fixtures` uses it; a Go
// test can too:
//
//	fx, err := fixturefile.Load("testdata/mock.yaml")
//	if err != nil { t.Fatal(err) }
//	var opts mockserver.Options
//	fx.Apply(&opts)
//	s := mockserver.New(t, mockserver.WithOptions(opts))
//
// The mockserver package itself imports the standard library only; this
// package is where the YAML dependency lives.
//
// # Format
//
// A fixtures file is one YAML mapping with up to four keys, all optional.
// Unknown keys are errors, at every level. Durations are Go duration strings
// ("90s", "5m", "1h30m"); a bare 0 is also accepted. Anchors, aliases and
// merge keys ("<<: *base") work as YAML defines them.
//
//	default_site:        # the site used when a token spec names none
//	  sitekey: 6Lc...    # public key; empty: generated (40 characters, "6L...")
//	  secret: 6Lc...     # private key the backend sends; empty: generated
//	  kind: v3           # v3 (default), v2-checkbox, v2-invisible, android, hcaptcha, hcaptcha-enterprise, turnstile, recaptcha-enterprise, recaptcha-enterprise-checkbox
//	  hostname: app.example.com   # default token hostname; default localhost
//	  apk_package_name: com.example.app  # default Android package name
//	  accept_any_token: false     # every non-empty token verifies, like Google's test secret
//	  project: my-project         # reCAPTCHA Enterprise: the project ID in the assessments URL (default siteverify-test); secret is its API key
//	  testing_score: 0.3          # reCAPTCHA Enterprise: testingOptions.testingScore, answered for every valid token; 0 means 0.0
//	sites:               # further sites, same fields; sitekey and secret required
//	  - {sitekey: ..., secret: ..., kind: v2-checkbox, hostname: ...}
//	tokens:              # named tokens: fixed strings clients send as "response"
//	  - token: human-login        # the exact string; at most 4096 characters
//	    reusable: true            # verify any number of times (default: once until reset)
//	    spec:                     # what the answer says; every field optional
//	      sitekey: 6Lc...         # a sitekey defined in this file; empty: default site
//	      kind: v3                # empty: the site's kind
//	      score: 0.9              # v3 and recaptcha-enterprise (1 human; absent: 0.9) or hcaptcha-enterprise (1 bot; absent: 0); 0 means 0.0
//	      omit_score: false       # a v3 answer with no score field
//	      action: login           # v3 action (default "submit") or turnstile action (default none)
//	      cdata: session-42       # turnstile customer data; default none
//	      hostname: app.example.com   # default: the site's hostname
//	      apk_package_name: com.example.app  # Android; default: the site's
//	      issued_ago: 0s          # age at every verification; >= lifetime: always expired
//	      lifetime: 2m            # default: the provider's (2m, hcaptcha 120s, turnstile 300s); at most 24h
//	      reasons: AUTOMATION     # reCAPTCHA Enterprise classification reasons, comma-separated
//	rules:               # scripted answers, tried in order
//	  - id: outage                # optional; r1, r2, ... are reserved for the server
//	    match: {token: outage, secret: ..., remoteip: ...}  # all optional; empty matches all
//	    times: -1                 # answers before the rule is used up; 0 once, -1 forever
//	    fault: html-error         # hang, close, reset, malformed-json, truncate, html-error
//	    status: 503               # HTTP status (100-599)
//	    body: '{"success": true}' # exact body (with status, default 200)
//	    content_type: application/json
//	    error_codes: [bad-request]   # answer success false with these codes
//	    delay: 2s                 # wait before answering; how long hang hangs; at most 10m
//	    spend: false              # verify (spend the token) first, then answer as scripted: the answer is lost
//
// A rule needs at least one of fault, body, error_codes, status or delay; see
// [mockserver.Rule] for which wins when several are set.
//
// Named tokens are always spec.issued_ago old when verified, so a spec has no
// issued_at. A named token verifies only with its site's secret.
//
// # Errors
//
// Every error names the file, the line, the field and what to write instead:
//
//	mock.yaml:7: tokens[1].spec.scor: unknown field; did you mean "score"? (known: sitekey, kind, score, ...)
//	mock.yaml:12: rules[0].fault: "hangs" is not a fault; did you mean "hang"? (want one of hang, close, ...)
//
// [Parse] reports up to ten problems at once, one per line: a single problem
// is an [*Error], several are joined with errors.Join (errors.As finds the
// first).
//
// # Limits
//
// A fixtures file is a regular file of at most [MaxFileSize] (4 MiB); [Load]
// refuses a device, a FIFO or a directory before opening it. Aliases may not
// make the file stand for more than 524 288 YAML nodes (each alias counts as
// the whole node it names), so an alias bomb is refused before any walk.
// Target files (suite/target) share these limits and this parser.
package fixturefile
