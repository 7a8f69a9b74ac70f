package target

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/siteverify/siteverify/internal/strictyaml"
)

// FieldError is one problem in a target file.
type FieldError struct {
	// File is the target file's path ("" when parsed from bytes).
	File string
	// Line is the 1-based line of the field, 0 if unknown.
	Line int
	// Path is the field path, e.g. "endpoints[0].token.in"; "" for the
	// whole file.
	Path string
	// Msg says what is wrong and how to fix it.
	Msg string
}

// Error formats "file:line: path: msg".
func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(where(e.File, e.Line))
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

func where(file string, line int) string {
	if file == "" {
		file = "target"
	}
	if line > 0 {
		return file + ":" + strconv.Itoa(line)
	}
	return file
}

// Errors is every problem found in a target file, in file order.
type Errors []*FieldError

// Error lists the problems, one per line.
func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// Unwrap returns the individual errors.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// Load reads and parses the target file at path. It refuses what is not a
// regular file (/dev/zero, a FIFO) and reads no more of a file than the
// 4 MiB limit.
func Load(path string) (*Target, error) {
	data, err := strictyaml.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read target file: %w", err)
	}
	return Parse(data, path)
}

// maxProblems bounds how many problems one Parse reports.
const maxProblems = 100

// Parse parses a target file's contents. file names it in messages and
// decides Dir; it may be "". The error, if any, is of type [Errors]: every
// problem of the file, each once, sorted by line.
func Parse(data []byte, file string) (*Target, error) {
	p := &parser{file: file, d: strictyaml.Decoder{Max: maxProblems, Lines: map[string]int{}}}
	root := p.d.Parse(data)
	if root == nil {
		if p.d.Empty() {
			p.d.Add(0, "", "file is empty; see the target file format in README.md (\"The target file\")")
		}
		return nil, p.errors()
	}
	var t Target
	// One pass reports unknown fields and wrong types; validation then
	// runs on whatever decoded, skipping the fields already reported, so
	// no problem is an echo of another.
	p.d.Decode(root, "", &t)
	t.File = file
	t.Dir = "."
	if file != "" {
		t.Dir = filepath.Dir(file)
	}
	t.lines = p.d.Lines
	p.validate(&t)
	if err := p.errors(); err != nil {
		return nil, err
	}
	return &t, nil
}

type parser struct {
	file string
	d    strictyaml.Decoder
}

// errorf records a problem at path, unless path (or a field it lies under)
// already has one: then this problem only follows from that one.
func (p *parser) errorf(path string, format string, args ...any) {
	if p.d.Tainted(path) {
		return
	}
	p.d.Add(p.line(path), path, format, args...)
}

// errors returns the problems found, sorted by line, or nil.
func (p *parser) errors() error {
	if p.d.Empty() {
		return nil
	}
	errs := make(Errors, 0, len(p.d.Problems)+1)
	for _, pr := range p.d.Problems {
		errs = append(errs, &FieldError{File: p.file, Line: pr.Line, Path: pr.Field, Msg: pr.Msg})
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
	if p.d.More > 0 {
		errs = append(errs, &FieldError{File: p.file, Msg: fmt.Sprintf("%d more problems not shown", p.d.More)})
	}
	return errs
}

// line finds the line of path or, failing that, of its nearest parent.
func (p *parser) line(path string) int {
	for path != "" {
		if l, ok := p.d.Lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

// UnmarshalYAML reads a Go duration string such as "3s" or "1m30s".
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("want a duration such as \"3s\", got %s", strictyaml.Describe(n))
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil || v < 0 {
		return fmt.Errorf("want a duration such as \"3s\" or \"1m30s\", got %s", strictyaml.Describe(n))
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes d as a duration string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }
