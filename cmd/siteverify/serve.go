package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/siteverify/siteverify/mockserver"
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
	cfg.opts.Logger = logger
	srv, err := mockserver.NewServer(cfg.opts)
	if err != nil {
		// The configuration was valid, so this is the environment: the
		// port is taken, the host does not resolve.
		fmt.Fprintf(stderr, "siteverify serve: start on %s: %v\n", cfg.opts.Addr, err)
		return exitFail
	}
	defer srv.Close()
	fmt.Fprintf(stdout, "siteverify: listening on %s\n", srv.URL())
	site := srv.Site()
	logger.Info("siteverify serve started",
		"verify_url", srv.VerifyURL(),
		"admin_url", srv.URL()+mockserver.AdminPrefix,
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
	<-ctx.Done()
	logger.Info("shutting down")
	srv.Close()
	logger.Info("stopped")
	return exitOK
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
