package main

import (
	"bytes"
	"errors"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siteverify/siteverify/mockserver"
)

// envMap is a fake environment for loadServeConfig.
func envMap(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestServeConfigDefaults(t *testing.T) {
	cfg, err := loadServeConfig(nil, envMap())
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.opts
	if o.Addr != "127.0.0.1:8089" || o.AdminToken != "" || o.JournalSize != mockserver.DefaultJournalSize ||
		o.SigningKey != nil || cfg.logLevel != slog.LevelInfo || cfg.fixtures != "" || o.Tokens != nil {
		t.Errorf("defaults: %+v, level %v", o, cfg.logLevel)
	}
}

func TestServeConfigSources(t *testing.T) {
	key := strings.Repeat("ab", 16)
	cases := []struct {
		name  string
		args  []string
		env   []string
		check func(t *testing.T, c serveConfig)
	}{
		{"env only", nil, []string{
			"SITEVERIFY_ADDR", "127.0.0.1:0", "SITEVERIFY_ADMIN_TOKEN", "tok", "SITEVERIFY_JOURNAL_SIZE", "5",
			"SITEVERIFY_LOG_LEVEL", "DEBUG", "SITEVERIFY_SIGNING_KEY", key,
		}, func(t *testing.T, c serveConfig) {
			if c.opts.Addr != "127.0.0.1:0" || c.opts.AdminToken != "tok" || c.opts.JournalSize != 5 ||
				c.logLevel != slog.LevelDebug || len(c.opts.SigningKey) != 16 || c.opts.SigningKey[0] != 0xab {
				t.Errorf("%+v", c)
			}
		}},
		{"flags only", []string{"--addr", "localhost:0", "--admin-token=tok", "-journal-size", "7", "--log-level", "warn", "--signing-key", key}, nil,
			func(t *testing.T, c serveConfig) {
				if c.opts.Addr != "localhost:0" || c.opts.AdminToken != "tok" || c.opts.JournalSize != 7 || c.logLevel != slog.LevelWarn || c.opts.SigningKey == nil {
					t.Errorf("%+v", c)
				}
			}},
		{"flag wins over env", []string{"--addr", "127.0.0.1:1", "--journal-size", "9", "--log-level", "error"},
			[]string{"SITEVERIFY_ADDR", "127.0.0.1:2", "SITEVERIFY_JOURNAL_SIZE", "3", "SITEVERIFY_LOG_LEVEL", "debug"},
			func(t *testing.T, c serveConfig) {
				if c.opts.Addr != "127.0.0.1:1" || c.opts.JournalSize != 9 || c.logLevel != slog.LevelError {
					t.Errorf("%+v", c)
				}
			}},
		{"a bad env value a flag overrides is ignored", []string{"--journal-size", "9"}, []string{"SITEVERIFY_JOURNAL_SIZE", "lots"},
			func(t *testing.T, c serveConfig) {
				if c.opts.JournalSize != 9 {
					t.Errorf("%+v", c)
				}
			}},
		{"empty env is unset", nil, []string{"SITEVERIFY_ADDR", "", "SITEVERIFY_JOURNAL_SIZE", ""},
			func(t *testing.T, c serveConfig) {
				if c.opts.Addr != "127.0.0.1:8089" || c.opts.JournalSize != mockserver.DefaultJournalSize {
					t.Errorf("%+v", c)
				}
			}},
		{"non-loopback with a token", []string{"--addr", "0.0.0.0:0"}, []string{"SITEVERIFY_ADMIN_TOKEN", "tok"},
			func(t *testing.T, c serveConfig) {
				if c.opts.Addr != "0.0.0.0:0" || c.opts.AdminToken != "tok" {
					t.Errorf("%+v", c)
				}
			}},
		{"IPv6 loopback", []string{"--addr", "[::1]:0"}, nil, func(t *testing.T, c serveConfig) {
			if c.opts.Addr != "[::1]:0" {
				t.Errorf("%+v", c)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := loadServeConfig(c.args, envMap(c.env...))
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, cfg)
		})
	}
}

func TestServeConfigErrors(t *testing.T) {
	const secretToken = "s3cr3t tok"
	cases := []struct {
		name string
		args []string
		env  []string
		want string // the whole message, or a prefix ending in "..."
	}{
		{"unknown flag", []string{"--port", "1"}, nil, "flag provided but not defined: -port (see siteverify help serve)"},
		{"positional", []string{"fixtures.yaml"}, nil, `serve takes no arguments, got ["fixtures.yaml"] (flags go before them; see siteverify help serve)`},
		{"addr no port", []string{"--addr", "127.0.0.1"}, nil, `--addr="127.0.0.1": want host:port such as 127.0.0.1:8089 (port 0 picks a free one)`},
		{"addr bad port", nil, []string{"SITEVERIFY_ADDR", "127.0.0.1:99999"}, `SITEVERIFY_ADDR="127.0.0.1:99999": port "99999" is not a number from 0 to 65535`},
		{"addr all interfaces", []string{"--addr", "0.0.0.0:0"}, nil, `--addr="0.0.0.0:0" is not a loopback address, and without an admin token the admin API (which mints tokens and scripts answers) would be open to the network: set --admin-token (or SITEVERIFY_ADMIN_TOKEN), or listen on 127.0.0.1`},
		{"addr empty host", nil, []string{"SITEVERIFY_ADDR", ":8089"}, `SITEVERIFY_ADDR=":8089" is not a loopback address...`},
		{"addr hostname", []string{"--addr", "example.com:80"}, nil, `--addr="example.com:80" is not a loopback address...`},
		{"journal zero", []string{"--journal-size", "0"}, nil, `--journal-size="0": want a whole number from 1 to 1000000 (default 10000)`},
		{"journal word", nil, []string{"SITEVERIFY_JOURNAL_SIZE", "lots"}, `SITEVERIFY_JOURNAL_SIZE="lots": want a whole number from 1 to 1000000 (default 10000)`},
		{"journal huge", []string{"--journal-size", "1000001"}, nil, `--journal-size="1000001": want a whole number...`},
		{"log level", []string{"--log-level", "verbose"}, nil, `--log-level="verbose": want debug, info, warn or error`},
		{"log level offset", nil, []string{"SITEVERIFY_LOG_LEVEL", "info+2"}, `SITEVERIFY_LOG_LEVEL="info+2": want debug, info, warn or error`},
		{"signing key not hex", []string{"--signing-key", "zz" + strings.Repeat("0", 40)}, nil, "--signing-key: not hexadecimal; want at least 32 hex digits, e.g. from `openssl rand -hex 32`"},
		{"signing key short", nil, []string{"SITEVERIFY_SIGNING_KEY", "abcd"}, "SITEVERIFY_SIGNING_KEY: 2 bytes; want 16 to 1024 bytes (32 to 2048 hex digits), e.g. from `openssl rand -hex 32`"},
		{"admin token space", []string{"--admin-token", secretToken}, nil, "--admin-token: must be printable ASCII without spaces, as it is sent in an Authorization header"},
		{"admin token long", nil, []string{"SITEVERIFY_ADMIN_TOKEN", strings.Repeat("t", 1025)}, "SITEVERIFY_ADMIN_TOKEN: longer than 1024 characters"},
		{"fixtures missing", []string{"--fixtures", "/nonexistent/mock.yaml"}, nil, "--fixtures: read fixtures: open /nonexistent/mock.yaml: no such file or directory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := loadServeConfig(c.args, envMap(c.env...))
			if err == nil {
				t.Fatalf("no error; want %s", c.want)
			}
			got := err.Error()
			if prefix, ok := strings.CutSuffix(c.want, "..."); ok {
				if !strings.HasPrefix(got, prefix) {
					t.Errorf("got  %s\nwant %s", got, c.want)
				}
			} else if got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
			if strings.Contains(got, secretToken) {
				t.Errorf("the message echoes the admin token: %s", got)
			}
		})
	}
}

func TestServeConfigHelp(t *testing.T) {
	for _, arg := range []string{"-h", "--help", "-help"} {
		if _, err := loadServeConfig([]string{arg}, envMap()); !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%s: %v, want flag.ErrHelp", arg, err)
		}
	}
	var b bytes.Buffer
	serveUsage(&b)
	for _, s := range serveSettings() {
		if !strings.Contains(b.String(), "--"+s.flag+", "+s.env) {
			t.Errorf("usage does not list --%s with %s:\n%s", s.flag, s.env, b.String())
		}
	}
}

func TestServeConfigFixtures(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	writeFile(t, good, "default_site: {sitekey: 6LcGood, secret: 6LcGoodSecret}\ntokens:\n  - {token: human, reusable: true}\nrules:\n  - {match: {token: outage}, fault: html-error}\n")
	bad := filepath.Join(dir, "bad.yaml")
	writeFile(t, bad, "tokens:\n  - token: human\n    spec:\n      scor: 0.9\n")

	cfg, err := loadServeConfig([]string{"--fixtures", good}, envMap())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.fixtures != good || cfg.opts.DefaultSite.SiteKey != "6LcGood" || len(cfg.opts.Tokens) != 1 || len(cfg.opts.Rules) != 1 {
		t.Errorf("fixtures not applied: %+v", cfg.opts)
	}

	_, err = loadServeConfig(nil, envMap("SITEVERIFY_FIXTURES", bad))
	want := "SITEVERIFY_FIXTURES: " + bad + `:4: tokens[0].spec.scor: unknown field; did you mean "score"? (known: sitekey, kind, score, omit_score, action, cdata, hostname, apk_package_name, issued_ago, lifetime, reasons)`
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
	// The flag wins, even over a broken file named in the environment.
	if _, err := loadServeConfig([]string{"--fixtures", good}, envMap("SITEVERIFY_FIXTURES", bad)); err != nil {
		t.Errorf("flag did not win over env: %v", err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
