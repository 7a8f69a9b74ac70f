package suite_test

import (
	"flag"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/siteverify/siteverify/suite"
)

var update = flag.Bool("update", false, "rewrite testdata/catalog.golden and CATALOG.md from the catalog")

// TestCatalogGolden keeps case IDs stable: the catalog's IDs, levels and
// titles must match testdata/catalog.golden. After a deliberate change
// (a new case, a reworded title) run: go test ./suite -run Catalog -update
// and have the diff reviewed. IDs are append-only: never renumber or reuse.
func TestCatalogGolden(t *testing.T) {
	checkGenerated(t, "testdata/catalog.golden", suite.GoldenCatalog())
}

// TestCatalogMarkdownInSync keeps CATALOG.md (embedded in the README)
// generated from the catalog; regenerate with go run ./suite/cmd/catalogmd.
func TestCatalogMarkdownInSync(t *testing.T) {
	checkGenerated(t, "CATALOG.md", suite.CatalogMarkdown())
}

// TestReadmeCatalogInSync keeps the catalog table in the project README
// generated from the catalog.
func TestReadmeCatalogInSync(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	want, err := suite.SpliceReadmeCatalog(string(readme))
	if err != nil {
		t.Fatal(err)
	}
	checkGenerated(t, "../README.md", want)
}

func checkGenerated(t *testing.T, path, want string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (generate it with: go test ./suite -run Catalog -update)", err)
	}
	if string(got) != want {
		t.Errorf("%s is out of date with suite/catalog.go; after reviewing the change run: go test ./suite -run Catalog -update\n%s",
			path, lineDiff(string(got), want))
	}
}

// lineDiff lists lines only in got (-) and only in want (+).
func lineDiff(got, want string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	g, w := in(got), in(want)
	var b strings.Builder
	for _, l := range strings.Split(got, "\n") {
		if !w[l] {
			b.WriteString("- " + l + "\n")
		}
	}
	for _, l := range strings.Split(want, "\n") {
		if !g[l] {
			b.WriteString("+ " + l + "\n")
		}
	}
	return b.String()
}

// TestCatalogWellFormed checks the table's rows: ID format and uniqueness,
// one-line titles, requirement wording that matches the level, references,
// and labels Ginkgo accepts.
func TestCatalogWellFormed(t *testing.T) {
	idRE := regexp.MustCompile(`^(ACCEPT|REJECT|WIRE|OUTAGE|LEAK|ENT)-\d{3}$`)
	seen := map[string]bool{}
	for _, c := range suite.Catalog() {
		if !idRE.MatchString(c.ID) {
			t.Errorf("%s: ID must be AREA-NNN with a known area", c.ID)
		}
		if seen[c.ID] {
			t.Errorf("%s: duplicate ID", c.ID)
		}
		seen[c.ID] = true
		if c.Title == "" || c.Title != strings.TrimSpace(c.Title) || strings.ContainsAny(c.Title, "\n\t") {
			t.Errorf("%s: title %q must be one trimmed line", c.ID, c.Title)
		}
		word := string(c.Level)
		if c.Level == suite.Should && strings.Contains(c.Requirement, "SHOULD NOT") {
			word = "SHOULD NOT"
		}
		if !strings.Contains(c.Requirement, word) {
			t.Errorf("%s: requirement of a %s case must say %s: %q", c.ID, c.Level, word, c.Requirement)
		}
		if c.Level == suite.Should && strings.Contains(c.Requirement, "MUST") {
			t.Errorf("%s: a SHOULD case's requirement says MUST", c.ID)
		}
		if c.Reference == "" || c.Run == nil {
			t.Errorf("%s: needs a reference and a Run function", c.ID)
		}
		for _, l := range c.Labels() {
			if strings.ContainsAny(l, "&|!,()/:") {
				t.Errorf("%s: label %q is not a valid Ginkgo label", c.ID, l)
			}
		}
	}
}

func TestSelect(t *testing.T) {
	all, err := suite.Select(nil, "")
	if err != nil || len(all) != len(suite.Catalog()) {
		t.Fatalf("Select(all) = %d cases, %v", len(all), err)
	}
	got, err := suite.Select([]string{"wire-001", " REJECT-004"}, "")
	if err != nil || len(got) != 2 || got[0].ID != "REJECT-004" || got[1].ID != "WIRE-001" {
		t.Errorf("Select(focus) = %v, %v", got, err)
	}
	got, err = suite.Select(nil, "outage && !OUTAGE-007")
	if err != nil || len(got) != 8 {
		t.Errorf("Select(outage && !OUTAGE-007) = %d cases, %v", len(got), err)
	}
	got, err = suite.Select(nil, "should")
	if err != nil || len(got) != 8 { // WIRE-006..011, LEAK-001, LEAK-002
		t.Errorf("Select(should) = %d cases, %v", len(got), err)
	}
	for _, bad := range []struct {
		focus  []string
		filter string
		want   string
	}{
		{[]string{"NOPE-001"}, "", `unknown case ID "NOPE-001"`},
		{nil, "outage &&", "label filter"},
		{[]string{"ACCEPT-001"}, "outage", "matches no case"},
	} {
		if _, err := suite.Select(bad.focus, bad.filter); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("Select(%v, %q) = %v, want error containing %q", bad.focus, bad.filter, err, bad.want)
		}
	}
	if f := suite.AndFilters("", "a || b", suite.FocusFilter([]string{"X-001", "", "Y-002"})); f != "(a || b) && (X-001 || Y-002)" {
		t.Errorf("AndFilters = %q", f)
	}
}
