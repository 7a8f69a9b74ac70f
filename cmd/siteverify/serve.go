package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"google.golang.org/grpc"

	"github.com/siteverify/siteverify/mockserver"
	"github.com/siteverify/siteverify/mockserver/enterprisegrpc"
	"github.com/siteverify/siteverify/mockserver/intercept"
)

// runServe is `siteverify serve`: it runs the mock until ctx is cancelled
// (SIGINT or SIGTERM), then closes it and exits 0.
func runServe(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
	cfg, err := loadServeConfig(args, env)
	if errors.Is(err, flag.ErrHelp) {
		serveUsage(stdout)
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "siteverify serve: %v\n", err)
		return exitUsage
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.logLevel}))
	m, err := startMock(cfg, logger)
	if err != nil {
		fmt.Fprintf(stderr, "siteverify serve: %v\n", err)
		return exitHarness
	}
	defer m.close()
	fmt.Fprintf(stdout, "siteverify: listening on %s\n", m.url)
	if m.proxyURL != "" {
		fmt.Fprintf(stdout, "siteverify: proxy on %s\n", m.proxyURL)
	}
	if m.tlsAddr != "" {
		fmt.Fprintf(stdout, "siteverify: TLS on %s\n", m.tlsAddr)
	}
	<-ctx.Done()
	logger.Info("shutting down")
	m.close()
	logger.Info("stopped")
	return exitOK
}

// runningMock is a mock started by serve or exec.
type runningMock struct {
	srv *mockserver.Server
	// url and verifyURL are usable by a client: a wildcard bind address is
	// replaced by the loopback address of its family.
	url, verifyURL string
	urlFile        string
	// interceptor serves the providers' real hosts when --proxy-addr or
	// --tls-addr is set; proxyURL and tlsAddr are where, caFile the CA to
	// trust.
	interceptor       *intercept.Interceptor
	proxyURL, tlsAddr string
	caFile            string
	// grpc serves reCAPTCHA Enterprise's gRPC service, on the mock's port
	// (HTTP/2 in clear text) and through the interceptor.
	grpc *grpc.Server
}

// startMock starts the mock of a serve configuration, logs where it
// listens, and writes the URL file. Its errors come from the environment
// (the port is taken, the host does not resolve, the URL file cannot be
// written), since the configuration was validated.
func startMock(cfg serveConfig, logger *slog.Logger) (*runningMock, error) {
	cfg.opts.Logger = logger
	// reCAPTCHA Enterprise's gRPC service on the mock's own port: the gRPC
	// server needs the mock's handler, which exists only once it starts.
	var grpcSrv atomic.Pointer[grpc.Server]
	cfg.opts.Routes = maps.Clone(cfg.opts.Routes)
	if cfg.opts.Routes == nil {
		cfg.opts.Routes = map[string]http.Handler{}
	}
	cfg.opts.Routes[enterprisegrpc.RoutePattern] = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g := grpcSrv.Load(); g != nil {
			g.ServeHTTP(w, r)
			return
		}
		http.Error(w, "starting", http.StatusServiceUnavailable)
	})
	srv, err := mockserver.NewServer(cfg.opts)
	if err != nil {
		return nil, fmt.Errorf("start on %s: %w", cfg.opts.Addr, err)
	}
	m := &runningMock{srv: srv, url: usableURL(srv.URL(), cfg.opts.Addr), grpc: enterprisegrpc.NewServer(srv.Handler())}
	grpcSrv.Store(m.grpc)
	m.verifyURL = m.url + srv.Site().Kind.Provider().VerifyPath()
	if cfg.urlFile != "" {
		if err := writeFileAtomic(cfg.urlFile, []byte(m.url+"\n")); err != nil {
			srv.Close()
			return nil, fmt.Errorf("--url-file: %w", err)
		}
		m.urlFile = cfg.urlFile
	}
	if err := m.startInterceptor(cfg, logger); err != nil {
		m.close()
		return nil, err
	}
	site := srv.Site()
	// Every provider answers on its own path; the default site's is
	// verify_url.
	var others []string
	for _, p := range mockserver.Providers() {
		if p != site.Kind.Provider() {
			others = append(others, p.Name()+"="+m.url+p.VerifyPath())
		}
	}
	logger.Info("siteverify serve started",
		"verify_url", m.verifyURL,
		"other_verify_urls", strings.Join(others, " "),
		"admin_url", m.url+mockserver.AdminPrefix,
		"admin_auth", authDescription(cfg.opts.AdminToken),
		"sitekey", site.SiteKey,
		"secret", mockserver.Fingerprint(site.Secret), // the secret itself: GET /__admin/sites
		"kind", site.Kind,
		"sites", len(cfg.opts.Sites),
		"named_tokens", len(cfg.opts.Tokens),
		"rules", len(cfg.opts.Rules),
		"fixtures", cfg.fixtures,
		"journal_size", cfg.opts.JournalSize,
		"signing_key", keyDescription(cfg.opts.SigningKey),
	)
	return m, nil
}

// startInterceptor starts the proxy and TLS listeners a configuration asks
// for, serving the mock on the providers' real hosts.
func (m *runningMock) startInterceptor(cfg serveConfig, logger *slog.Logger) error {
	if cfg.proxyAddr == "" && cfg.tlsAddr == "" {
		return nil
	}
	ca, err := intercept.LoadCA(cfg.caDir)
	if err != nil {
		return fmt.Errorf("--ca-dir: %w", err)
	}
	m.caFile = ca.CertFile()
	m.interceptor = &intercept.Interceptor{Mock: m.srv.Handler(), CA: ca, Passthrough: cfg.passthrough, Token: cfg.opts.AdminToken, Logger: logger,
		// reCAPTCHA Enterprise's official clients speak gRPC to
		// recaptchaenterprise.googleapis.com:443.
		GRPC: m.grpc}
	if cfg.proxyAddr != "" {
		l, err := net.Listen("tcp", cfg.proxyAddr)
		if err != nil {
			return fmt.Errorf("--proxy-addr: %w", err)
		}
		m.proxyURL = usableURL("http://"+l.Addr().String(), cfg.proxyAddr)
		go m.interceptor.ServeProxy(l)
	}
	if cfg.tlsAddr != "" {
		l, err := net.Listen("tcp", cfg.tlsAddr)
		if err != nil {
			return fmt.Errorf("--tls-addr: %w", err)
		}
		m.tlsAddr = strings.TrimPrefix(usableURL("http://"+l.Addr().String(), cfg.tlsAddr), "http://")
		go m.interceptor.ServeTLS(l)
	}
	logger.Info("intercepting the providers' hosts",
		"proxy_url", m.proxyURL, "tls_addr", m.tlsAddr, "ca_file", m.caFile,
		"passthrough", cfg.passthrough, "hosts", strings.Join(intercept.ProviderHosts(), " "))
	return nil
}

// interceptEnv is the environment that sends a child process's provider
// calls to the interceptor and makes it trust the CA: empty without one.
func (m *runningMock) interceptEnv() []string {
	if m.interceptor == nil {
		return nil
	}
	env := append([]string{"SITEVERIFY_CA_FILE=" + m.caFile}, intercept.CAEnv(m.caFile)...)
	if m.proxyURL != "" {
		env = append(env, "SITEVERIFY_PROXY_URL="+m.proxyURL)
		env = append(env, intercept.ProxyEnv(m.proxyURL)...)
	}
	if m.tlsAddr != "" {
		env = append(env, "SITEVERIFY_TLS_ADDR="+m.tlsAddr)
	}
	return env
}

// close stops the mock and removes its URL file, so a script never reads
// the URL of a mock that is gone. It is idempotent.
func (m *runningMock) close() {
	if m.interceptor != nil {
		m.interceptor.Close()
	}
	m.grpc.Stop()
	m.srv.Close()
	if m.urlFile != "" {
		_ = os.Remove(m.urlFile)
		m.urlFile = ""
	}
}

// usableURL turns the URL of a wildcard bind into one a client can use: the
// loopback address of the family that was asked for, 127.0.0.1 for
// 0.0.0.0 (or no host) and [::1] for [::]. The listener's own address does
// not say: on a dual-stack host, 0.0.0.0 listens as [::].
func usableURL(raw, addr string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	ip := net.ParseIP(u.Hostname())
	if ip == nil || !ip.IsUnspecified() {
		return raw
	}
	host := "127.0.0.1"
	if h, _, err := net.SplitHostPort(addr); err == nil {
		if asked := net.ParseIP(h); asked != nil && asked.To4() == nil {
			host = "::1"
		}
	}
	u.Host = net.JoinHostPort(host, u.Port())
	return u.String()
}

// writeFileAtomic writes data to path through a temporary file in the same
// directory and a rename, so a reader polling for the file never sees it
// half written.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}

// authDescription says whether the admin API needs a token, never which.
func authDescription(token string) string {
	if token == "" {
		return "none"
	}
	return "bearer token"
}

// keyDescription says where the signing key came from, never what it is.
func keyDescription(key []byte) string {
	if key == nil {
		return "random"
	}
	return "configured"
}
