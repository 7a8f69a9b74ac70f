package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// Set at link time by `make dist`:
//
//	-ldflags "-X main.version=v1.2.3 -X main.commit=abc123 -X main.date=2026-12-01T10:00:00Z"
//
// When empty, the module's build information (VCS stamping, or the version
// `go install ...@VERSION` records) fills them in.
var (
	version string
	commit  string
	date    string
)

// buildInfo is what this binary knows about its own build.
type buildInfo struct {
	Version, Commit, Date, Go string
	Modified                  bool
}

func currentBuild() buildInfo {
	b := buildInfo{Version: version, Commit: commit, Date: date, Go: runtime.Version()}
	if info, ok := debug.ReadBuildInfo(); ok {
		if b.Version == "" {
			b.Version = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if b.Commit == "" {
					b.Commit = s.Value
				}
			case "vcs.time":
				if b.Date == "" {
					b.Date = s.Value
				}
			case "vcs.modified":
				b.Modified = s.Value == "true" && commit == ""
			}
		}
	}
	if b.Version == "" {
		b.Version = "(devel)"
	}
	if b.Commit == "" {
		b.Commit = "unknown"
	}
	if b.Date == "" {
		b.Date = "unknown"
	}
	return b
}

// runVersion prints the version, the commit and the build date.
func runVersion(_ context.Context, args []string, _ func(string) string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		if args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
			fmt.Fprintln(stdout, "usage: siteverify version")
			return exitOK
		}
		fmt.Fprintln(stderr, "usage: siteverify version (it takes no arguments)")
		return exitUsage
	}
	b := currentBuild()
	c := b.Commit
	if b.Modified {
		c += " (modified)"
	}
	fmt.Fprintf(stdout, "siteverify %s\ncommit: %s\ndate:   %s\ngo:     %s %s/%s\n", b.Version, c, b.Date, b.Go, runtime.GOOS, runtime.GOARCH)
	return exitOK
}

// versionString is the build on one line, for reports.
func versionString() string {
	b := currentBuild()
	c := b.Commit
	if len(c) > 12 {
		c = c[:12]
	}
	if b.Modified {
		c += "+dirty"
	}
	return fmt.Sprintf("siteverify %s (%s, %s, %s)", b.Version, c, b.Date, b.Go)
}
