// Package suite is the conformance suite for backend reCAPTCHA
// integrations: a catalog of cases (see [Catalog] and CATALOG.md) that
// drives any backend, written in any language, through the mock siteverify
// server of package mockserver, and reports which requirements it meets.
//
// A run needs a target (package suite/target reads the YAML file that
// describes the backend) and a mock (in-process by default). The catalog
// runs in two ways that share the same case functions and results:
//
//   - [Run] runs the cases one after the other in plain Go. It can be
//     called any number of times in a process (the self-test does).
//   - Package suite/specs declares every case as a Ginkgo spec labelled
//     with its ID, area and level, for `siteverify conform`, `go test
//     ./suite` and users' own Ginkgo suites.
//
// A backend that hard-codes the provider's real verify URL is tested
// through it: a target whose start section sets use_proxy or
// resolve_providers (or uses {{proxy_url}}, {{ca_file}}, {{tls_addr}}) makes
// the session serve its in-process mock on the providers' real URLs, with
// the mock's test CA ([Config].CADir), through a forward proxy and a TLS
// listener (package mockserver/intercept), and give the backend the proxy
// and CA variables, or, for resolve_providers (Linux), its own /etc/hosts in
// a private mount namespace.
//
// Each case uses fresh tokens, scripts the mock only for its own tokens, and
// reads only its own journal entries, so cases can run in any order; they
// must not run concurrently against one target, since some count the
// siteverify calls made while they run.
//
// Library code in this package never exits the process and never calls a
// test framework: a case returns a [*Failure], and the caller reports it.
package suite
