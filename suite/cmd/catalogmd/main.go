// Command catalogmd writes the conformance catalog as Markdown, for the
// README and suite/CATALOG.md:
//
//	go run ./suite/cmd/catalogmd               # writes suite/CATALOG.md and the README's table
//	go run ./suite/cmd/catalogmd -o -          # prints CATALOG.md
//
// Tests in package suite fail when either is out of date.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/siteverify/siteverify/suite"
)

func main() {
	out := flag.String("o", "suite/CATALOG.md", "output file, - for stdout")
	readme := flag.String("readme", "README.md", "README whose catalog table to update; empty to skip")
	flag.Parse()
	md := suite.CatalogMarkdown()
	if *out == "-" {
		fmt.Print(md)
		return
	}
	if err := os.WriteFile(*out, []byte(md), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "catalogmd:", err)
		os.Exit(1)
	}
	if *readme == "" {
		return
	}
	old, err := os.ReadFile(*readme)
	if err == nil {
		var spliced string
		if spliced, err = suite.SpliceReadmeCatalog(string(old)); err == nil {
			err = os.WriteFile(*readme, []byte(spliced), 0o644)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "catalogmd:", err)
		os.Exit(1)
	}
}
