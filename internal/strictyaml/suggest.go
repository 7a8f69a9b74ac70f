package strictyaml

import (
	"fmt"
	"strings"
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
		if d := editDistance(strings.ToLower(got), string(k)); d < bestDist {
			best, bestDist = string(k), d
		}
	}
	if best == got {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance, for short words only.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// List formats known values as "a, b, c".
func List[T ~string](known []T) string {
	parts := make([]string, len(known))
	for i, k := range known {
		parts[i] = string(k)
	}
	return strings.Join(parts, ", ")
}
