package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/siteverify/siteverify/mockserver/intercept"
)

// runCA is `siteverify ca`: it makes the mock's test CA if there is none yet
// and prints where its certificate is, the certificate, and how each runtime
// trusts it. It never prints the key.
func runCA(_ context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
	settings := []option{caDirOption, {flag: "pem", boolean: true, usage: "print only the certificate (PEM), for piping"}}
	o, err := parseOptions("ca", settings, args, env)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(stdout, "usage: siteverify ca [flags]\n\nMakes the mock's test certificate authority on first use (and reuses it after), then prints\nits certificate's path, the certificate, and how each runtime trusts it. The CA signs\ncertificates only for the CAPTCHA providers' hosts, which serve --proxy-addr and --tls-addr\nimpersonate. Trust it per process, on test machines only: never in a system store.\n\n")
		printOptions(stdout, settings)
		return exitOK
	}
	if err == nil && len(o.args) > 0 {
		err = fmt.Errorf("ca takes no arguments, got %q", o.args)
	}
	if err != nil {
		fmt.Fprintf(stderr, "siteverify ca: %v\n", err)
		return exitUsage
	}
	pemOnly, err := o.boolean("pem")
	if err != nil {
		fmt.Fprintf(stderr, "siteverify ca: %v\n", err)
		return exitUsage
	}
	dir, err := caDir(o)
	if err != nil {
		fmt.Fprintf(stderr, "siteverify ca: %v\n", err)
		return exitUsage
	}
	ca, err := intercept.LoadCA(dir)
	if err != nil {
		fmt.Fprintf(stderr, "siteverify ca: --ca-dir %s: %v\n", dir, err)
		return exitHarness
	}
	if pemOnly {
		stdout.Write(ca.CertPEM())
		return exitOK
	}
	writeCAInfo(stdout, ca)
	return exitOK
}

// writeCAInfo prints the CA's path, what it signs, how each runtime trusts
// it, and the certificate.
func writeCAInfo(w io.Writer, ca *intercept.CA) {
	file := ca.CertFile()
	fmt.Fprintf(w, "CA certificate: %s\n", file)
	fmt.Fprintf(w, "Signs only:     %s\n", strings.Join(intercept.ProviderHosts(), ", "))
	fmt.Fprintf(w, "Chromium:       --ignore-certificate-errors-spki-list=%s\n", ca.SPKIHash())
	fmt.Fprintf(w, "\nWARNING: a test CA that impersonates CAPTCHA providers. Trust it per process, on test\nmachines only; never install it in a system or browser trust store elsewhere.\n\n")
	fmt.Fprintf(w, "Per runtime (route: proxy = HTTPS_PROXY=http://HOST:PORT of serve --proxy-addr;\nname resolution = the providers' hosts pointed at serve --tls-addr on port 443):\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, r := range intercept.Runtimes() {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", r.Name, r.Route, r.TrustFor(file))
		if r.Note != "" {
			fmt.Fprintf(tw, "  \t\t(%s)\n", r.Note)
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "\n%s", ca.CertPEM())
}
