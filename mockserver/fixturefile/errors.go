package fixturefile

import (
	"errors"
	"fmt"
	"strings"
)

// Error is one problem in a fixtures file.
type Error struct {
	// File is the name the file was loaded under.
	File string
	// Line is the 1-based line of the offending key or value; 0 when the
	// problem is with the file as a whole.
	Line int
	// Field is the path of the field, e.g. "tokens[1].spec.score"; empty
	// when the problem is with the file as a whole.
	Field string
	// Msg says what is wrong and what to write instead.
	Msg string
}

// Error formats the problem as "file:line: field: message".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// maxErrors bounds how many problems one Parse reports.
const maxErrors = 10

// problems collects Errors for one file.
type problems struct {
	file string
	errs []*Error
	more int // problems found beyond maxErrors
}

func (p *problems) add(line int, field, format string, args ...any) {
	if len(p.errs) == maxErrors {
		p.more++
		return
	}
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (p *problems) empty() bool { return len(p.errs) == 0 }

// err returns the problems as one error, nil if none.
func (p *problems) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	errs := make([]error, 0, len(p.errs)+1)
	for _, e := range p.errs {
		errs = append(errs, e)
	}
	if p.more > 0 {
		errs = append(errs, &Error{File: p.file, Msg: fmt.Sprintf("%d more problems not shown", p.more)})
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}

// suggest returns `; did you mean "x"?` for the known word closest to got,
// or "" when none is close.
func suggest[T ~string](got string, known []T) string {
	best, bestDist := "", 3
	for _, k := range known {
		if d := editDistance(strings.ToLower(got), string(k)); d < bestDist {
			best, bestDist = string(k), d
		}
	}
	if best == "" || best == got {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", best)
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

// list formats known values as "a, b, c".
func list[T ~string](known []T) string {
	parts := make([]string, len(known))
	for i, k := range known {
		parts[i] = string(k)
	}
	return strings.Join(parts, ", ")
}
