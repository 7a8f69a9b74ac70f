package target

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
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

// Load reads and parses the target file at path.
func Load(path string) (*Target, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read target file: %w", err)
	}
	return Parse(data, path)
}

// maxFileBytes bounds a target file.
const maxFileBytes = 1 << 20

// Parse parses a target file's contents. file names it in messages and
// decides Dir; it may be "". The error, if any, is of type [Errors].
func Parse(data []byte, file string) (*Target, error) {
	p := &parser{file: file, lines: map[string]int{}}
	t, err := p.parse(data)
	if err != nil {
		return nil, err
	}
	t.File = file
	t.Dir = "."
	if file != "" {
		t.Dir = filepath.Dir(file)
	}
	t.lines = p.lines
	p.validate(t)
	if len(p.errs) > 0 {
		sort.SliceStable(p.errs, func(i, j int) bool { return p.errs[i].Line < p.errs[j].Line })
		return nil, p.errs
	}
	return t, nil
}

type parser struct {
	file  string
	lines map[string]int
	errs  Errors
}

func (p *parser) errorf(path string, format string, args ...any) {
	p.errs = append(p.errs, &FieldError{File: p.file, Line: p.line(path), Path: path, Msg: fmt.Sprintf(format, args...)})
}

// line finds the line of path or, failing that, of its nearest parent.
func (p *parser) line(path string) int {
	for path != "" {
		if l, ok := p.lines[path]; ok {
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

func (p *parser) parse(data []byte) (*Target, error) {
	if len(data) > maxFileBytes {
		return nil, Errors{{File: p.file, Msg: fmt.Sprintf("file is %d bytes; a target file is at most %d", len(data), maxFileBytes)}}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, Errors{{File: p.file, Msg: "file is empty; see the target file format in suite/README.md"}}
		}
		return nil, Errors{p.yamlError(err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, Errors{{File: p.file, Line: extra.Line, Msg: "more than one YAML document; a target file holds exactly one"}}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	p.check(root, reflect.TypeOf(Target{}), "")
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	var t Target
	if err := root.Decode(&t); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for _, msg := range te.Errors {
				p.errs = append(p.errs, p.typeError(msg))
			}
			return nil, p.errs
		}
		return nil, Errors{p.yamlError(err)}
	}
	return &t, nil
}

var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

func (p *parser) yamlError(err error) *FieldError {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &FieldError{File: p.file, Line: line, Msg: "invalid YAML: " + m[2]}
	}
	return &FieldError{File: p.file, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

var unmarshalRE = regexp.MustCompile("^line (\\d+): cannot unmarshal !!(\\w+) `(.*)` into (.+)$")

// typeError turns one of yaml.v3's "line N: cannot unmarshal" messages into
// a FieldError naming the field.
func (p *parser) typeError(msg string) *FieldError {
	m := unmarshalRE.FindStringSubmatch(msg)
	if m == nil {
		if lm := yamlLineRE.FindStringSubmatch(msg); lm != nil {
			line, _ := strconv.Atoi(lm[1])
			return &FieldError{File: p.file, Line: line, Path: p.pathAt(line), Msg: lm[2]}
		}
		return &FieldError{File: p.file, Msg: msg}
	}
	line, _ := strconv.Atoi(m[1])
	want := m[4]
	switch {
	case strings.HasPrefix(want, "[]"):
		want = "a list"
	case strings.HasPrefix(want, "map["):
		want = "a mapping"
	case strings.Contains(want, "int"):
		want = "an integer"
	case strings.Contains(want, "float"):
		want = "a number"
	case want == "string":
		want = "a string"
	case want == "bool":
		want = "true or false"
	}
	got := map[string]string{"str": "the string", "int": "the integer", "float": "the number", "bool": "the boolean",
		"seq": "a list", "map": "a mapping", "null": "null"}[m[2]]
	if got == "" {
		got = "!!" + m[2]
	}
	val := m[3]
	if m[2] == "seq" || m[2] == "map" {
		val = ""
	} else {
		val = " " + strconv.Quote(val)
	}
	return &FieldError{File: p.file, Line: line, Path: p.pathAt(line), Msg: fmt.Sprintf("want %s, got %s%s", want, got, val)}
}

// pathAt returns the deepest recorded path on line, "" if none.
func (p *parser) pathAt(line int) string {
	best := ""
	for path, l := range p.lines {
		if l == line && (len(path) > len(best) || (len(path) == len(best) && path < best)) {
			best = path
		}
	}
	return best
}

var unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()

// check walks n against type t: it records the line of every field path and
// reports unknown fields and nodes of the wrong shape. Scalar type errors
// are left to Decode, which reports them with a line that pathAt resolves.
func (p *parser) check(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if _, ok := p.lines[path]; !ok {
		p.lines[path] = n.Line
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		p.check(n, t.Elem(), path)
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			p.errorf(path, "want a mapping of fields (%s), got %s", strings.Join(yamlFields(t), ", "), nodeKind(n))
			return
		}
		fields := yamlFieldMap(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i], n.Content[i+1]
			child := joinPath(path, key.Value)
			p.lines[child] = key.Line
			f, ok := fields[key.Value]
			if !ok {
				msg := fmt.Sprintf("unknown field %q", key.Value)
				if s := suggest(key.Value, yamlFields(t)); s != "" {
					msg += fmt.Sprintf("; did you mean %q?", s)
				} else {
					msg += fmt.Sprintf("; known fields here: %s", strings.Join(yamlFields(t), ", "))
				}
				p.errorf(child, "%s", msg)
				continue
			}
			p.check(val, f.Type, child)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			if n.Kind == yaml.MappingNode {
				p.errorf(path, "want a list, got a mapping")
			}
			return // a scalar is reported by Decode
		}
		for i, el := range n.Content {
			p.check(el, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			if n.Kind == yaml.SequenceNode {
				p.errorf(path, "want a mapping (key: value), got a list")
			}
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i], n.Content[i+1]
			child := path + "[" + strconv.Quote(key.Value) + "]"
			p.lines[child] = key.Line
			p.check(val, t.Elem(), child)
		}
	}
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.ScalarNode:
		return strconv.Quote(n.Value)
	}
	return "something else"
}

func joinPath(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

func yamlName(f reflect.StructField) string {
	tag := f.Tag.Get("yaml")
	name, _, _ := strings.Cut(tag, ",")
	return name
}

func yamlFieldMap(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := range t.NumField() {
		f := t.Field(i)
		if name := yamlName(f); name != "" && name != "-" && f.IsExported() {
			out[name] = f
		}
	}
	return out
}

func yamlFields(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		if name := yamlName(f); name != "" && name != "-" && f.IsExported() {
			out = append(out, name)
		}
	}
	return out
}

// suggest returns the known name closest to s, if it is close enough to be
// a typo.
func suggest(s string, known []string) string {
	best, bestD := "", 3
	norm := func(x string) string { return strings.ToLower(strings.NewReplacer("-", "_", " ", "_").Replace(x)) }
	for _, k := range known {
		if norm(k) == norm(s) {
			return k
		}
		if d := levenshtein(norm(s), norm(k)); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

func levenshtein(a, b string) int {
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

// UnmarshalYAML reads a Go duration string such as "3s" or "1m30s".
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	// A *yaml.TypeError is collected with the other type errors instead of
	// stopping the decoder.
	if n.Kind != yaml.ScalarNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: want a duration such as \"3s\", got %s", n.Line, nodeKind(n))}}
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil || v < 0 {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: want a duration such as \"3s\" or \"1m30s\", got %q", n.Line, n.Value)}}
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes d as a duration string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }
