package suite

import (
	"fmt"
	"strings"
)

// GoldenCatalog is the catalog as testdata/catalog.golden holds it: one
// line per case, "ID<TAB>LEVEL<TAB>title". A test compares the two, so
// renaming, renumbering or removing a case is a reviewed change of that
// file (go test ./suite -update rewrites it).
func GoldenCatalog() string {
	var b strings.Builder
	for _, c := range catalog {
		fmt.Fprintf(&b, "%s\t%s\t%s\n", c.ID, c.Level, c.Title)
	}
	return b.String()
}

// CatalogMarkdown renders the catalog as the Markdown of CATALOG.md: a
// summary table, then each case's requirement and reference. It is
// generated (go run ./suite/cmd/catalogmd, or go test ./suite -update) and
// a test keeps the file in sync.
func CatalogMarkdown() string {
	var b strings.Builder
	b.WriteString("<!-- Generated from suite/catalog.go by `go run ./suite/cmd/catalogmd`; DO NOT EDIT. -->\n\n")
	b.WriteString("# Conformance catalog\n\n")
	fmt.Fprintf(&b, "%d cases. MUST cases fail the run; SHOULD cases fail it with `--strict` and are reported as warnings otherwise. ", len(catalog))
	b.WriteString("Each case is a Ginkgo spec labelled with its ID, its area (`accept`, `reject`, `wire`, `outage`, `leak`) and its level (`must`, `should`), ")
	b.WriteString("so `--label-filter 'outage || (wire && must)'` works. IDs are stable: they are never renumbered or reused.\n\n")
	b.WriteString("| ID | Level | Kinds | Title |\n|---|---|---|---|\n")
	for _, c := range catalog {
		fmt.Fprintf(&b, "| [%s](#%s) | %s | %s | %s |\n", c.ID, strings.ToLower(c.ID), c.Level, c.KindsString(), mdEscape(c.Title))
	}
	b.WriteString("\n## Requirements\n")
	for _, c := range catalog {
		fmt.Fprintf(&b, "\n### %s\n\n**%s** (%s; kinds: %s)\n\n%s\n\nReference: %s\n", c.ID, mdEscape(c.Title), c.Level, c.KindsString(), mdEscape(c.Requirement), mdEscape(c.Reference))
	}
	return b.String()
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;").Replace(s)
}
