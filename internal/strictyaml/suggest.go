package strictyaml

import (
	"fmt"
	"strings"

	"github.com/siteverify/siteverify/internal/suggest"
)

// Suggest returns `; did you mean "x"?` for the known word closest to got,
// or "" when none is close.
func Suggest[T ~string](got string, known []T) string {
	if best := closest(got, known); best != "" {
		return fmt.Sprintf("; did you mean %q?", best)
	}
	return ""
}

// closest is the known word closest to got, "" when none is close or got
// is one.
func closest[T ~string](got string, known []T) string {
	best, bestDist := "", 3
	for _, k := range known {
		if d := suggest.Distance(strings.ToLower(got), string(k)); d < bestDist {
			best, bestDist = string(k), d
		}
	}
	if best == got {
		return ""
	}
	return best
}

// List formats known values as "a, b, c".
func List[T ~string](known []T) string {
	parts := make([]string, len(known))
	for i, k := range known {
		parts[i] = string(k)
	}
	return strings.Join(parts, ", ")
}
