// Command siteverify is the siteverify toolkit's one binary: a mock of
// Google reCAPTCHA's siteverify endpoint and the tools around it.
//
//	siteverify serve --fixtures fixtures/mock.yaml
//	siteverify help
//
// Exit codes: 0 success, 1 the integration failed cases, 2 usage or
// configuration error, 3 the harness could not run.
package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"slices"
	"syscall"
)

// Exit codes, the same for every command.
const (
	exitOK      = 0 // success: every case and flow passed
	exitFail    = 1 // the integration under test failed cases or flows
	exitUsage   = 2 // usage or configuration error: a flag, variable or file
	exitHarness = 3 // the harness could not run: a backend that never started, no Chromium, a mock unreachable or unable to listen
)

// command is one subcommand. run gets the arguments after the command name
// and returns the exit code.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int
}

// commands is every subcommand. Adding one is one line here, pointing at a
// run function in the command's own file. Read-only.
var commands = map[string]command{
	"serve":    {summary: "run the mock siteverify server (flags: siteverify help serve)", run: runServe},
	"conform":  {summary: "run the conformance suite against a backend (flags: siteverify help conform)", run: runConform},
	"browse":   {summary: "drive the target's pages through the token lifecycle in headless Chromium (flags: siteverify help browse)", run: runBrowse},
	"demo":     {summary: "run everything against the built-in sample backend and write an HTML report", run: runDemo},
	"exec":     {summary: "run a command (your tests) against a fresh mock: siteverify exec -- pytest", run: runExec},
	"version":  {summary: "print the version, commit and build date", run: runVersion},
	"fixtures": {summary: "print the sample fixtures file (named tokens, rules): siteverify fixtures > mock.yaml", run: runFixtures},
	"init":     {summary: "write a commented starter target file: siteverify init --kind v3", run: runInit},
	"ca":       {summary: "print the mock's test CA (made on first use) and how each runtime trusts it", run: runCA},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches to a subcommand; ctx is cancelled on SIGINT or SIGTERM.
func run(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 {
			if c, ok := commands[rest[0]]; ok {
				return c.run(ctx, []string{"-h"}, env, stdout, stdout)
			}
			fmt.Fprintf(stderr, "siteverify: unknown command %q\n\n", rest[0])
			usage(stderr)
			return exitUsage
		}
		usage(stdout)
		return exitOK
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "siteverify: unknown command %q\n\n", name)
		usage(stderr)
		return exitUsage
	}
	return c.run(ctx, rest, env, stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "siteverify: test CAPTCHA integrations offline\n\nUsage:\n  siteverify <command> [flags]\n\nCommands:\n")
	// The parts in the order a newcomer meets them; any other command after.
	names := []string{"demo", "serve", "conform", "browse"}
	for _, n := range slices.Sorted(maps.Keys(commands)) {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(w, "  %-10s %s\n\nExit codes: 0 success, 1 the integration failed cases or flows, 2 usage or configuration error,\n3 the harness could not run (a backend that never started, no Chromium, the mock unreachable).\n", "help", "show this, or a command's flags: siteverify help serve")
}
