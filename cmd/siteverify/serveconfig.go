package main

import (
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"

	"github.com/siteverify/siteverify/mockserver"
	"github.com/siteverify/siteverify/mockserver/fixturefile"
	"github.com/siteverify/siteverify/mockserver/intercept"
)

// serveConfig is a validated `siteverify serve` configuration.
type serveConfig struct {
	// opts is everything but the Logger, which runServe adds.
	opts     mockserver.Options
	logLevel slog.Level
	// fixtures is the fixtures file loaded, "" if none.
	fixtures string
	// urlFile receives the base URL once listening, "" for none.
	urlFile string
	// proxyAddr and tlsAddr are the interception listeners' addresses, ""
	// for none; caDir is the CA's directory when either is set.
	proxyAddr, tlsAddr, caDir string
	// passthrough tunnels non-provider hosts instead of refusing them.
	passthrough bool
}

// Limits on serve settings.
const (
	maxJournalSize   = 1_000_000
	maxAdminTokenLen = 1024
	minSigningKeyLen = 16
	maxSigningKeyLen = 1024
	defaultServeAddr = "127.0.0.1:8089"
	defaultLogLevel  = "info"
)

func serveSettings() []option {
	return []option{
		{flag: "addr", env: "SITEVERIFY_ADDR", def: defaultServeAddr, usage: "address to listen on; port 0 picks a free one"},
		{flag: "fixtures", env: "SITEVERIFY_FIXTURES", usage: "YAML fixtures file: default site, sites, named tokens, rules"},
		{flag: "admin-token", env: "SITEVERIFY_ADMIN_TOKEN", usage: "bearer token the admin API requires; needed for a non-loopback --addr"},
		{flag: "journal-size", env: "SITEVERIFY_JOURNAL_SIZE", def: strconv.Itoa(mockserver.DefaultJournalSize), usage: "siteverify requests the journal keeps (1-1000000)"},
		{flag: "log-level", env: "SITEVERIFY_LOG_LEVEL", def: defaultLogLevel, usage: "debug (one record per request), info, warn or error"},
		{flag: "signing-key", env: "SITEVERIFY_SIGNING_KEY", usage: "token HMAC key, at least 32 hex digits; replicas sharing it accept each other's tokens (default random)"},
		{flag: "url-file", env: "SITEVERIFY_URL_FILE", usage: "once listening, write the base URL (one line) to this file, for scripts; removed at exit"},
		{flag: "proxy-addr", env: "SITEVERIFY_PROXY_ADDR", usage: "also listen as a forward proxy (HTTPS_PROXY) that answers on the providers' real hosts with TLS from the mock's CA; needs --admin-token off loopback"},
		{flag: "tls-addr", env: "SITEVERIFY_TLS_ADDR", usage: "also listen for TLS on the providers' real host names (for clients sent here by a hosts entry); needs --admin-token off loopback"},
		caDirOption,
		{flag: "passthrough", env: "SITEVERIFY_PASSTHROUGH", boolean: true, usage: "let the proxy tunnel hosts that are not a provider's, untouched (default: refuse them with 403)"},
	}
}

// caDirOption is the CA directory setting of every command that
// intercepts: serve, exec, conform, browse and ca.
var caDirOption = option{flag: "ca-dir", env: "SITEVERIFY_CA_DIR", usage: "directory of the mock's test CA, made on first use and reused (default: siteverify/ca in the user's cache directory)"}

// serveUsage prints the serve flags with their environment twins.
func serveUsage(w io.Writer) {
	fmt.Fprintf(w, "usage: siteverify serve [flags]\n\nRuns the mock siteverify server until SIGINT or SIGTERM. Each flag can also be set\nfrom its environment variable; a flag wins over the variable.\n\n")
	printOptions(w, serveSettings())
	fmt.Fprintf(w, "\nOnce listening it prints one line to stdout: siteverify: listening on http://HOST:PORT\n")
}

// loadServeConfig turns flags and environment into a validated
// configuration. Every error names the flag or variable it came from (and,
// for a fixtures file, the file, line and field) and says what to set.
func loadServeConfig(args []string, env func(string) string) (serveConfig, error) {
	o, err := parseOptions("serve", serveSettings(), args, env)
	if err != nil {
		return serveConfig{}, err // flag.ErrHelp is passed on: the caller prints serveUsage
	}
	if len(o.args) > 0 {
		return serveConfig{}, fmt.Errorf("serve takes no arguments, got %q (flags go before them; see siteverify help serve)", o.args)
	}
	return serveConfigFrom(o)
}

// serveConfigFrom validates the serve options of a parsed command line:
// serve's, or exec's, which shares them.
func serveConfigFrom(o *options) (serveConfig, error) {
	var cfg serveConfig
	var err error
	token, tokenSrc := o.get("admin-token")
	if cfg.opts.AdminToken, err = parseAdminToken(token, tokenSrc); err != nil {
		return serveConfig{}, err
	}
	addr, addrSrc := o.get("addr")
	if cfg.opts.Addr, err = parseAddr(addr, addrSrc, cfg.opts.AdminToken != ""); err != nil {
		return serveConfig{}, err
	}
	size, sizeSrc := o.get("journal-size")
	if cfg.opts.JournalSize, err = parseJournalSize(size, sizeSrc); err != nil {
		return serveConfig{}, err
	}
	level, levelSrc := o.get("log-level")
	if err := cfg.logLevel.UnmarshalText([]byte(level)); err != nil || strings.ContainsAny(level, "+-") {
		return serveConfig{}, fmt.Errorf("%s=%q: want debug, info, warn or error", levelSrc, level)
	}
	key, keySrc := o.get("signing-key")
	if cfg.opts.SigningKey, err = parseSigningKey(key, keySrc); err != nil {
		return serveConfig{}, err
	}
	path, pathSrc := o.get("fixtures")
	if path != "" {
		fx, err := fixturefile.Load(path)
		if err != nil {
			return serveConfig{}, fmt.Errorf("%s: %w", pathSrc, err)
		}
		fx.Apply(&cfg.opts)
		cfg.fixtures = path
	}
	cfg.urlFile = o.str("url-file")
	for _, l := range []struct {
		name string
		dst  *string
	}{{"proxy-addr", &cfg.proxyAddr}, {"tls-addr", &cfg.tlsAddr}} {
		v, src := o.get(l.name)
		if v == "" {
			continue
		}
		if *l.dst, err = parseListenAddr(v, src, cfg.opts.AdminToken != "", "the "+l.name[:strings.IndexByte(l.name, '-')]+" listener (which impersonates CAPTCHA providers)"); err != nil {
			return serveConfig{}, err
		}
	}
	if cfg.passthrough, err = o.boolean("passthrough"); err != nil {
		return serveConfig{}, err
	}
	if cfg.passthrough && cfg.proxyAddr == "" {
		return serveConfig{}, fmt.Errorf("--passthrough (or SITEVERIFY_PASSTHROUGH) is a proxy setting: set --proxy-addr too")
	}
	if cfg.proxyAddr != "" || cfg.tlsAddr != "" {
		if cfg.caDir, err = caDir(o); err != nil {
			return serveConfig{}, err
		}
	}
	return cfg, nil
}

// caDir is the --ca-dir setting, or the default directory.
func caDir(o *options) (string, error) {
	if dir := o.str("ca-dir"); dir != "" {
		return dir, nil
	}
	return intercept.DefaultCADir()
}

func parseAdminToken(v, source string) (string, error) {
	if len(v) > maxAdminTokenLen {
		return "", fmt.Errorf("%s: longer than %d characters", source, maxAdminTokenLen)
	}
	for _, c := range []byte(v) {
		if c <= ' ' || c >= 0x7f {
			// The value is a secret: say what is wrong, never echo it.
			return "", fmt.Errorf("%s: must be printable ASCII without spaces, as it is sent in an Authorization header", source)
		}
	}
	return v, nil
}

func parseAddr(v, source string, haveToken bool) (string, error) {
	return parseListenAddr(v, source, haveToken, "the admin API (which mints tokens and scripts answers)")
}

// parseListenAddr checks a listen address; what is the listener that must
// not be open to the network without a token.
func parseListenAddr(v, source string, haveToken bool, what string) (string, error) {
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return "", fmt.Errorf("%s=%q: want host:port such as 127.0.0.1:8089 (port 0 picks a free one)", source, v)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return "", fmt.Errorf("%s=%q: port %q is not a number from 0 to 65535", source, v, port)
	}
	if haveToken || host == "localhost" {
		return v, nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return v, nil
	}
	return "", fmt.Errorf("%s=%q is not a loopback address, and without an admin token %s "+
		"would be open to the network: set --admin-token "+
		"(or SITEVERIFY_ADMIN_TOKEN), or listen on 127.0.0.1", source, v, what)
}

func parseJournalSize(v, source string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxJournalSize {
		return 0, fmt.Errorf("%s=%q: want a whole number from 1 to %d (default %d)", source, v, maxJournalSize, mockserver.DefaultJournalSize)
	}
	return n, nil
}

func parseSigningKey(v, source string) ([]byte, error) {
	if v == "" {
		return nil, nil
	}
	key, err := hex.DecodeString(v)
	if err != nil {
		return nil, fmt.Errorf("%s: not hexadecimal; want at least %d hex digits, e.g. from `openssl rand -hex 32`", source, 2*minSigningKeyLen)
	}
	if len(key) < minSigningKeyLen || len(key) > maxSigningKeyLen {
		return nil, fmt.Errorf("%s: %d bytes; want %d to %d bytes (%d to %d hex digits), e.g. from `openssl rand -hex 32`",
			source, len(key), minSigningKeyLen, maxSigningKeyLen, 2*minSigningKeyLen, 2*maxSigningKeyLen)
	}
	return key, nil
}
