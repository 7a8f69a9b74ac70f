// Command catalogmd writes the conformance catalog as Markdown, for the
// README and suite/CATALOG.md:
//
//	go run ./suite/cmd/catalogmd               # writes suite/CATALOG.md
//	go run ./suite/cmd/catalogmd -o -          # prints it
//
// A test in package suite fails when CATALOG.md is out of date.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/siteverify/siteverify/suite"
)

func main() {
	out := flag.String("o", "suite/CATALOG.md", "output file, - for stdout")
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
}
