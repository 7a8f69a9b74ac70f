package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/siteverify/siteverify/cmd/siteverify/internal/htmlreport"
	"github.com/siteverify/siteverify/mockserver"
	"github.com/siteverify/siteverify/suite"
	"github.com/siteverify/siteverify/suite/specs"
	"github.com/siteverify/siteverify/suite/target"
)

const defaultConformTimeout = 5 * time.Minute

func conformFlags() []option {
	return []option{
		{flag: "target", env: "SITEVERIFY_TARGET", usage: "target file (YAML) describing the backend under test; required unless --list"},
		{flag: "mock-url", env: "SITEVERIFY_MOCK_URL", usage: "drive a running `siteverify serve` at this base URL instead of an in-process mock"},
		{flag: "admin-token", env: "SITEVERIFY_ADMIN_TOKEN", usage: "bearer token for the --mock-url admin API"},
		{flag: "junit", env: "SITEVERIFY_JUNIT", usage: "write a JUnit XML report to this file"},
		{flag: "json", env: "SITEVERIFY_JSON", usage: "write a JSON report (per case: result, duration, requirement, journal) to this file"},
		{flag: "html", env: "SITEVERIFY_HTML", usage: "write a self-contained HTML report (open it in a browser) to this file"},
		{flag: "focus", env: "SITEVERIFY_FOCUS", usage: "run only these case IDs, comma-separated, e.g. REJECT-004,WIRE-001"},
		{flag: "label-filter", env: "SITEVERIFY_LABEL_FILTER", usage: "Ginkgo label filter over case labels (ID, area, level), e.g. 'outage || (wire && must)'"},
		{flag: "strict", env: "SITEVERIFY_STRICT", boolean: true, usage: "count failed SHOULD cases as failures"},
		{flag: "list", env: "SITEVERIFY_LIST", boolean: true, usage: "print the (selected) catalog and exit"},
		{flag: "timeout", env: "SITEVERIFY_TIMEOUT", def: defaultConformTimeout.String(), usage: "bound on the whole run, backend start included"},
		{flag: "seed", env: "SITEVERIFY_SEED", def: "0", usage: "shuffle the case order with this seed (0: catalog order)"},
		{flag: "v", env: "SITEVERIFY_VERBOSE", boolean: true, usage: "verbose: details of passing cases too, and the backend's output as it runs"},
		// For targets with start.use_proxy, start.resolve_providers or
		// {{proxy_url}}, {{ca_file}}, {{tls_addr}}; read only by them.
		caDirOption,
	}
}

// conformConfig is a validated `siteverify conform` invocation.
type conformConfig struct {
	target, mockURL, adminToken, junit, json, html string
	caDir                                          string // "" for the default, resolved only if the target intercepts
	focus                                          []string
	labelFilter                                    string
	strict, list, verbose                          bool
	timeout                                        time.Duration
	seed                                           int64
	cases                                          []suite.Case
}

func conformUsage(w io.Writer) {
	fmt.Fprint(w, `usage: siteverify conform --target FILE [flags]

Runs the conformance catalog against a backend described by a target file:
starts it (if the file has a start section), points it at a mock siteverify,
and reports which requirements it meets. Each flag can also be set from its
environment variable; a flag wins over the variable.

`)
	printOptions(w, conformFlags())
	fmt.Fprint(w, `
Exit codes: 0 every selected MUST case passed (and SHOULD cases, with --strict);
1 a case failed; 2 usage or target file error; 3 the run could not happen (the
backend never started, the mock is unreachable). The requested reports are
written in every case but 2, with an error entry when the run could not happen.
`)
}

// loadConformConfig turns flags and environment into a validated
// configuration; every error names the flag or variable it came from.
func loadConformConfig(args []string, env func(string) string) (conformConfig, error) {
	o, err := parseOptions("conform", conformFlags(), args, env)
	if err != nil {
		return conformConfig{}, err
	}
	if len(o.args) > 0 {
		return conformConfig{}, fmt.Errorf("unexpected arguments %q: the target file goes in --target", o.args)
	}
	var c conformConfig
	for _, f := range conformFlags() {
		v, from := o.get(f.flag)
		switch f.flag {
		case "target":
			c.target = v
		case "mock-url":
			c.mockURL = v
		case "ca-dir":
			c.caDir = v
		case "admin-token":
			c.adminToken = v
		case "junit":
			c.junit = v
		case "json":
			c.json = v
		case "html":
			c.html = v
		case "focus":
			for _, id := range strings.Split(v, ",") {
				if id = strings.TrimSpace(id); id != "" {
					c.focus = append(c.focus, id)
				}
			}
		case "label-filter":
			c.labelFilter = v
		case "strict", "list", "v":
			b, err := o.boolean(f.flag)
			if err != nil {
				return c, err
			}
			switch f.flag {
			case "strict":
				c.strict = b
			case "list":
				c.list = b
			default:
				c.verbose = b
			}
		case "timeout":
			if c.timeout, err = time.ParseDuration(v); err != nil || c.timeout <= 0 {
				return c, fmt.Errorf("%s: %q is not a positive duration such as 2m or 90s", from, v)
			}
		case "seed":
			if c.seed, err = strconv.ParseInt(v, 10, 64); err != nil {
				return c, fmt.Errorf("%s: %q is not an integer", from, v)
			}
		}
	}
	if c.target == "" && !c.list {
		return c, errors.New("--target is required: the YAML file describing the backend (see siteverify help conform)")
	}
	if c.cases, err = suite.Select(c.focus, c.labelFilter); err != nil {
		return c, err
	}
	return c, nil
}

// runConform is `siteverify conform`.
func runConform(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
	cfg, err := loadConformConfig(args, env)
	if errors.Is(err, flag.ErrHelp) {
		conformUsage(stdout)
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "siteverify conform: %v\n", err)
		return exitUsage
	}
	if cfg.list {
		printCatalog(stdout, cfg.cases, cfg.verbose)
		return exitOK
	}
	tg, err := target.Load(cfg.target)
	if err != nil {
		fmt.Fprintf(stderr, "siteverify conform: invalid target file:\n%v\n", err)
		return exitUsage
	}

	var mock mockserver.Mock
	if cfg.mockURL != "" {
		c, err := mockserver.Dial(ctx, cfg.mockURL, mockserver.DialOptions{AdminToken: cfg.adminToken})
		if err != nil {
			return conformHarnessError(cfg, tg, fmt.Errorf("--mock-url: %w", err), stderr)
		}
		mock = c
	}
	scfg := suite.Config{
		Target: tg, Mock: mock, Focus: cfg.focus, LabelFilter: cfg.labelFilter, Strict: cfg.strict,
		Seed: cfg.seed, Timeout: cfg.timeout, CADir: cfg.caDir,
		OnResult: func(r suite.Result) { suite.WriteConsoleResult(stdout, r, cfg.verbose) },
	}
	if cfg.verbose {
		scfg.BackendOutput = stderr
	}
	fmt.Fprintf(stdout, "siteverify conform: %s (%s, outage policy %s), %d case(s)\n\n", tg.Name, tg.Kind, tg.Outage.Policy, len(cfg.cases))
	rep, err := specs.Run(ctx, scfg, specs.Options{})
	if err != nil && len(rep.Results) == 0 {
		return conformHarnessError(cfg, tg, err, stderr)
	}
	code := exitOK
	switch {
	case !rep.Passed() && rep.Summary.Failed > 0:
		code = exitFail // the integration failed cases: that is the verdict, even if the run was cut short
	case err != nil || !rep.Passed():
		code = exitHarness
	}
	if err != nil {
		fmt.Fprintf(stderr, "siteverify conform: %v\n", err)
	}
	rep.WriteSummary(stdout, cfg.verbose)
	if !writeConformReports(cfg, rep, stderr) && code == exitOK {
		code = exitHarness
	}
	return code
}

// conformHarnessError reports a run that could not happen (the mock is
// unreachable, the backend never started): every selected case is an error
// entry saying why, the requested reports are written all the same, so a CI
// job's report step finds them, and the exit code is exitHarness.
func conformHarnessError(cfg conformConfig, tg *target.Target, runErr error, stderr io.Writer) int {
	fmt.Fprintf(stderr, "siteverify conform: %v\n", runErr)
	rep := suite.Report{Target: tg.Name, TargetFile: cfg.target, Kind: string(tg.Kind), OutagePolicy: tg.Outage.Policy,
		MockURL: cfg.mockURL, Strict: cfg.strict, Seed: cfg.seed, Started: time.Now(),
		Notes: []string{"error: the run could not happen: " + runErr.Error()}}
	for _, c := range cfg.cases {
		if !c.AppliesTo(tg.Kind) {
			continue
		}
		rep.Results = append(rep.Results, suite.Result{ID: c.ID, Title: c.Title, Level: c.Level, Area: c.Area(),
			Requirement: c.Requirement, Reference: c.Reference, Status: suite.StatusError, Counted: true,
			Actual: "not run: " + runErr.Error()})
		rep.Summary.Errors++
	}
	writeConformReports(cfg, rep, stderr)
	return exitHarness
}

// writeConformReports writes the JUnit, JSON and HTML reports that were
// asked for, creating their directories, and reports whether all were
// written.
func writeConformReports(cfg conformConfig, rep suite.Report, stderr io.Writer) bool {
	ok := true
	for _, out := range []struct {
		path  string
		write func(io.Writer) error
	}{{cfg.junit, rep.WriteJUnit}, {cfg.json, rep.WriteJSON}, {cfg.html, func(w io.Writer) error {
		return htmlreport.Write(w, htmlreport.Document{Title: "siteverify conformance report: " + rep.Target,
			Generated: time.Now(), Version: versionString(),
			Runs: []htmlreport.Run{{Name: rep.Target, Description: "Target file " + cfg.target + ".", Conform: &rep}}})
	}}} {
		if out.path == "" {
			continue
		}
		if err := writeReportFile(out.path, out.write); err != nil {
			fmt.Fprintf(stderr, "siteverify conform: %v\n", err)
			ok = false
		}
	}
	return ok
}

func writeReportFile(path string, write func(io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("write report %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	return nil
}

// printCatalog prints one line per case: ID, level, kinds, title; verbose
// adds each requirement and reference.
func printCatalog(w io.Writer, cases []suite.Case, verbose bool) {
	if verbose {
		for _, c := range cases {
			fmt.Fprintf(w, "%s  %s  %s (kinds: %s)\n    %s\n    Reference: %s\n\n", c.ID, c.Level, c.Title, c.KindsString(), c.Requirement, c.Reference)
		}
		fmt.Fprintf(w, "%d case(s).\n", len(cases))
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tLEVEL\tKINDS\tTITLE")
	for _, c := range cases {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.ID, c.Level, c.KindsString(), c.Title)
	}
	tw.Flush()
	fmt.Fprintf(w, "\n%d case(s). Details: siteverify conform --list -v, or suite/CATALOG.md.\n", len(cases))
}
