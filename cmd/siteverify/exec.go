package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/siteverify/siteverify/fixtures"
	"github.com/siteverify/siteverify/mockserver"
	"github.com/siteverify/siteverify/mockserver/fixturefile"
)

// Exit codes exec uses for the command itself, as POSIX shells do.
const (
	exitCannotRun = 126 // the command exists but could not be started
	exitNotFound  = 127 // no such command
)

// The variables exec gives the command.
const (
	envURL        = "SITEVERIFY_URL"         // the mock's base URL
	envVerifyURL  = "SITEVERIFY_VERIFY_URL"  // reCAPTCHA's siteverify URL on the mock
	envSiteKey    = "SITEVERIFY_SITEKEY"     // the default site's sitekey
	envSecret     = "SITEVERIFY_SECRET"      // the default site's secret
	envTokensFile = "SITEVERIFY_TOKENS_FILE" // JSON: sites, named tokens and rules
)

// providerVerifyURLVar is the variable exec sets to a provider's siteverify
// URL on the mock: SITEVERIFY_RECAPTCHA_VERIFY_URL, _HCAPTCHA_, _TURNSTILE_,
// _RECAPTCHA_ENTERPRISE_ (the default project's assessments URL).
func providerVerifyURLVar(p *mockserver.Provider) string {
	return "SITEVERIFY_" + strings.ToUpper(strings.ReplaceAll(p.Name(), "-", "_")) + "_VERIFY_URL"
}

// builtinFixturesName names the embedded sample fixtures in messages.
const builtinFixturesName = "built-in sample fixtures (siteverify fixtures)"

// execOptions are serve's options, with a free port and quieter logs by
// default, since the command's output is what the reader wants to see.
func execOptions() []option {
	opts := serveSettings()
	for i := range opts {
		switch opts[i].flag {
		case "addr":
			opts[i].def = "127.0.0.1:0"
		case "log-level":
			opts[i].def = "warn"
		case "fixtures":
			opts[i].usage += " (default: the built-in samples, see siteverify fixtures)"
		}
	}
	return opts
}

func execUsage(w io.Writer) {
	fmt.Fprint(w, `usage: siteverify exec [serve flags] -- COMMAND [ARGS...]

Starts the mock on a free loopback port, runs COMMAND with the mock's
coordinates in its environment, streams its output, stops the mock, and exits
with COMMAND's status. SIGINT and SIGTERM are passed on to COMMAND. With no
--fixtures, the built-in sample fixtures are loaded, so the named tokens
(human-login, bot, wrong-hostname, expired, outage, ...) work at once.

The command gets:
  SITEVERIFY_URL          the mock's base URL, e.g. http://127.0.0.1:41234
  SITEVERIFY_VERIFY_URL   its siteverify URL for the default site: $SITEVERIFY_URL/recaptcha/api/siteverify
  SITEVERIFY_RECAPTCHA_VERIFY_URL, SITEVERIFY_HCAPTCHA_VERIFY_URL, SITEVERIFY_TURNSTILE_VERIFY_URL,
  SITEVERIFY_RECAPTCHA_ENTERPRISE_VERIFY_URL (the default project's assessments URL)
                          each provider's siteverify URL on the mock (their sites' keys are
                          in the tokens file)
  SITEVERIFY_SITEKEY      the default site's sitekey
  SITEVERIFY_SECRET       the default site's secret (named tokens of the default site verify with it)
  SITEVERIFY_TOKENS_FILE  a JSON file: every site, named token (with its site's sitekey and
                          secret and its spec) and rule
  SITEVERIFY_ADMIN_TOKEN  the admin token, when one is set
With --proxy-addr or --tls-addr (code that hard-codes the provider's URL):
  SITEVERIFY_CA_FILE      the mock's test CA certificate, also set as SSL_CERT_FILE,
                          REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, NODE_EXTRA_CA_CERTS,
                          PERL_LWP_SSL_CA_FILE and GRPC_DEFAULT_SSL_ROOTS_FILE_PATH
  SITEVERIFY_PROXY_URL    the proxy's URL, also set as HTTPS_PROXY, HTTP_PROXY (and
                          lower case), with NO_PROXY=127.0.0.1,localhost,::1
  SITEVERIFY_TLS_ADDR     the TLS listener's host:port

Flags (as for serve):
`)
	printOptions(w, execOptions())
	fmt.Fprint(w, `
Exit codes: COMMAND's own status (128+N when signal N ended it; 127 not found,
126 not runnable); 2 usage or configuration error; 3 the mock could not start.
`)
}

// runExec is `siteverify exec`.
func runExec(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
	o, err := parseOptions("exec", execOptions(), args, env)
	if errors.Is(err, flag.ErrHelp) {
		execUsage(stdout)
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "siteverify exec: %v\n", err)
		return exitUsage
	}
	if len(o.args) == 0 {
		fmt.Fprintln(stderr, "siteverify exec: no command: put it after --, e.g. siteverify exec -- pytest (see siteverify help exec)")
		return exitUsage
	}
	cfg, err := serveConfigFrom(o)
	if err != nil {
		fmt.Fprintf(stderr, "siteverify exec: %v\n", err)
		return exitUsage
	}
	if cfg.fixtures == "" {
		fx, err := fixturefile.Parse(builtinFixturesName, []byte(fixtures.MockYAML()))
		if err != nil {
			fmt.Fprintf(stderr, "siteverify exec: %v\n", err) // a broken build: the tests parse them
			return exitHarness
		}
		fx.Apply(&cfg.opts)
		cfg.fixtures = builtinFixturesName
	}

	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.logLevel}))
	m, err := startMock(cfg, logger)
	if err != nil {
		fmt.Fprintf(stderr, "siteverify exec: %v\n", err)
		return exitHarness
	}
	defer m.close()

	dir, err := os.MkdirTemp("", "siteverify-exec-")
	if err != nil {
		fmt.Fprintf(stderr, "siteverify exec: %v\n", err)
		return exitHarness
	}
	defer os.RemoveAll(dir)
	tokensFile := filepath.Join(dir, "tokens.json")
	if err := writeTokensFile(tokensFile, m, cfg); err != nil {
		fmt.Fprintf(stderr, "siteverify exec: write the tokens file: %v\n", err)
		return exitHarness
	}

	site := m.srv.Site()
	childEnv := append(os.Environ(),
		envURL+"="+m.url,
		envVerifyURL+"="+m.verifyURL,
		envSiteKey+"="+site.SiteKey,
		envSecret+"="+site.Secret,
		envTokensFile+"="+tokensFile,
	)
	for _, p := range mockserver.Providers() {
		childEnv = append(childEnv, providerVerifyURLVar(p)+"="+m.url+p.VerifyPath())
	}
	if cfg.opts.AdminToken != "" {
		childEnv = append(childEnv, "SITEVERIFY_ADMIN_TOKEN="+cfg.opts.AdminToken)
	}
	childEnv = append(childEnv, m.interceptEnv()...)
	return runChild(ctx, o.args, childEnv, stdout, stderr)
}

// runChild runs the command to its end and returns its exit status.
// Signals that reach siteverify are passed on (see forwardSignals); the
// child is not killed when ctx is cancelled, it is told, and its own exit
// ends the run.
func runChild(_ context.Context, argv, env []string, stdout, stderr io.Writer) int {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdin = os.Stdin
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// When stdout is not a file, os/exec copies through a pipe; a
	// grandchild that keeps it open must not hold exec forever.
	cmd.WaitDelay = 5 * time.Second

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, forwardedSignals...)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "siteverify exec: %v\n", err)
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			return exitNotFound
		}
		return exitCannotRun
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				if shouldForward(s) {
					_ = cmd.Process.Signal(s) // the PID we started, and only it
				}
			case <-done:
				return
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	return childStatus(cmd.ProcessState, err, stderr)
}

// childStatus turns how the command ended into exec's exit code: its own
// status, 128+N for signal N (as shells report it).
func childStatus(ps *os.ProcessState, err error, stderr io.Writer) int {
	if ps == nil {
		fmt.Fprintf(stderr, "siteverify exec: %v\n", err)
		return exitHarness
	}
	if code := ps.ExitCode(); code >= 0 {
		if err != nil && !errors.As(err, new(*exec.ExitError)) {
			// The command exited but its output could not be copied in
			// time (WaitDelay): say so, keep its status.
			fmt.Fprintf(stderr, "siteverify exec: %v\n", err)
		}
		return code
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return exitFail
}

// tokensFile is the JSON file exec hands the command: what a test in any
// language needs to use the named tokens without parsing YAML.
type tokensFile struct {
	URL         string            `json:"url"`
	VerifyURL   string            `json:"verify_url"`
	AdminURL    string            `json:"admin_url"`
	Fixtures    string            `json:"fixtures"`
	DefaultSite mockserver.Site   `json:"default_site"`
	Sites       []mockserver.Site `json:"sites"`
	// Tokens maps each named token to the keys it verifies with and its spec.
	Tokens map[string]tokenEntry `json:"tokens"`
	// Rules are the scripted rules, as the admin API shows them.
	Rules []mockserver.Rule `json:"rules"`
}

type tokenEntry struct {
	SiteKey  string               `json:"sitekey"`
	Secret   string               `json:"secret"`
	Reusable bool                 `json:"reusable"`
	Spec     mockserver.TokenSpec `json:"spec"`
}

func writeTokensFile(path string, m *runningMock, cfg serveConfig) error {
	def := m.srv.Site()
	f := tokensFile{URL: m.url, VerifyURL: m.verifyURL, AdminURL: m.url + mockserver.AdminPrefix, Fixtures: cfg.fixtures,
		DefaultSite: def, Sites: append([]mockserver.Site{}, cfg.opts.Sites...), Tokens: map[string]tokenEntry{},
		Rules: append([]mockserver.Rule{}, cfg.opts.Rules...)}
	secrets := map[string]string{def.SiteKey: def.Secret}
	for _, s := range cfg.opts.Sites {
		secrets[s.SiteKey] = s.Secret
	}
	for _, nt := range cfg.opts.Tokens {
		key := nt.Spec.SiteKey
		if key == "" {
			key = def.SiteKey
		}
		f.Tokens[nt.Token] = tokenEntry{SiteKey: key, Secret: secrets[key], Reusable: nt.Reusable, Spec: nt.Spec}
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o600) // it holds the sites' secrets
}
