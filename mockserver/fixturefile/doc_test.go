package fixturefile

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The format in doc.go lists every token spec field the decoder knows, in
// the table's order, so the documentation follows mockserver.TokenSpecFields.
func TestDocListsSpecFields(t *testing.T) {
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	start := strings.Index(text, "//	    spec:")
	end := strings.Index(text, "//	rules:")
	if start < 0 || end < start {
		t.Fatal("doc.go: no spec block in the format")
	}
	var documented []string
	for _, m := range regexp.MustCompile(`(?m)^//\s+(\w+):`).FindAllStringSubmatch(text[start:end], -1)[1:] {
		documented = append(documented, m[1])
	}
	if !slices.Equal(documented, specKeys()) {
		t.Errorf("doc.go documents spec fields %v, want %v", documented, specKeys())
	}
}
