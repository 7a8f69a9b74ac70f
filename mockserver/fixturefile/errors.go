package fixturefile

import (
	"errors"
	"fmt"
	"strings"

	"github.com/siteverify/siteverify/internal/strictyaml"
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

// decoder reads a fixtures file with the shared strict-YAML engine.
type decoder struct {
	strictyaml.Decoder
	file string
}

func newDecoder(file string) *decoder {
	return &decoder{Decoder: strictyaml.Decoder{Max: maxErrors, Hint: hint}, file: file}
}

// err returns the problems as one error, nil if none.
func (d *decoder) err() error {
	if len(d.Problems) == 0 {
		return nil
	}
	errs := make([]error, 0, len(d.Problems)+1)
	for _, p := range d.Problems {
		errs = append(errs, &Error{File: d.file, Line: p.Line, Field: p.Field, Msg: p.Msg})
	}
	if d.More > 0 {
		errs = append(errs, &Error{File: d.file, Msg: fmt.Sprintf("%d more problems not shown", d.More)})
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}

// hint adds advice for fields people reach for that the format leaves out.
func hint(name string) string {
	switch name {
	case "issued_at":
		return "; a named token is spec.issued_ago old at every verification, so use issued_ago"
	case "site_key", "siteKey":
		return "; the field is sitekey"
	}
	return ""
}
