package strictyaml

import (
	"fmt"
	"math"
	"time"

	"gopkg.in/yaml.v3"
)

// Fields is one YAML mapping, its values by key, with merge keys applied.
type Fields struct {
	// Path is the mapping's field path, "" for the top level.
	Path string
	// Line is the mapping's line.
	Line int
	vals map[string]*yaml.Node
	// keys are the keys set, in file order; keyLines their lines.
	keys     []string
	keyLines map[string]int
}

// maxMergeNodes bounds the mappings one merge key ("<<") may pull in,
// nested merges included, so a hostile file cannot make the walk blow up.
const maxMergeNodes = 64

// Resolve follows aliases to the node they name.
func Resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 16; i++ {
		n = n.Alias
	}
	return n
}

// IsNull reports whether n is absent or null.
func IsNull(n *yaml.Node) bool {
	n = Resolve(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// Describe names what a node is, for messages: `"abc" (a string)`, `a list`.
func Describe(n *yaml.Node) string {
	n = Resolve(n)
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		v := n.Value
		if len(v) > 40 {
			v = v[:40] + "…"
		}
		kind := map[string]string{"!!str": "a string", "!!int": "an integer", "!!float": "a number",
			"!!bool": "a boolean", "!!null": "null", "!!timestamp": "a timestamp"}[n.ShortTag()]
		if kind == "" {
			kind = "tagged " + n.ShortTag()
		}
		return fmt.Sprintf("%q (%s)", v, kind)
	}
	return "an alias"
}

// Join appends a field name to a path.
func Join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// LineOf is n's line, 0 for nil.
func LineOf(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	return n.Line
}

// Mapping reads n as a mapping with the given known keys, reporting unknown
// and duplicate keys; known == nil allows any key. It returns nil, with a
// problem recorded, when n is not a mapping.
//
// An unknown key that looks like a typo of a known key that is not set
// taints that key's path (see [Decoder.Tainted]): a check that it is
// required would only repeat the typo.
func (d *Decoder) Mapping(n *yaml.Node, path, example string, known []string) *Fields {
	n = Resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		d.Fail(LineOf(n), path, "want a mapping such as %s, got %s", example, Describe(n))
		return nil
	}
	f := &Fields{Path: path, Line: n.Line, vals: map[string]*yaml.Node{}, keyLines: map[string]int{}}
	budget := maxMergeNodes
	var typos []string
	d.collect(f, n, known, &typos, &budget, true)
	for _, k := range typos {
		if _, set := f.vals[k]; !set {
			d.Taint(Join(path, k))
		}
	}
	return f
}

// collect adds n's keys to f: explicit keys first (a repeat is an error),
// then keys from merged mappings that are not already set, as YAML's merge
// key defines.
func (d *Decoder) collect(f *Fields, n *yaml.Node, known []string, typos *[]string, budget *int, explicit bool) {
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := Resolve(n.Content[i]), n.Content[i+1]
		if k == nil || k.Kind != yaml.ScalarNode {
			d.Add(n.Content[i].Line, f.Path, "a key must be a plain name, got %s", Describe(k))
			continue
		}
		if k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		name := k.Value
		if known != nil && !contains(known, name) {
			hint := ""
			if d.Hint != nil {
				hint = d.Hint(name)
			}
			if c := closest(name, known); c != "" {
				*typos = append(*typos, c)
			}
			d.Add(k.Line, Join(f.Path, name), "unknown field%s (known: %s)%s", Suggest(name, known), List(known), hint)
			continue
		}
		if first, dup := f.keyLines[name]; dup {
			if explicit {
				d.Add(k.Line, Join(f.Path, name), "set twice (first on line %d); keep one", first)
			}
			continue
		}
		f.keyLines[name] = k.Line
		f.keys = append(f.keys, name)
		f.vals[name] = v
	}
	for _, m := range merges {
		m = Resolve(m)
		var sources []*yaml.Node
		switch {
		case m != nil && m.Kind == yaml.MappingNode:
			sources = []*yaml.Node{m}
		case m != nil && m.Kind == yaml.SequenceNode:
			sources = m.Content
		default:
			d.Add(LineOf(m), Join(f.Path, "<<"), "a merge key needs a mapping or a list of mappings, got %s", Describe(m))
			continue
		}
		for _, src := range sources {
			src = Resolve(src)
			if src == nil || src.Kind != yaml.MappingNode {
				d.Add(LineOf(src), Join(f.Path, "<<"), "a merge key needs a mapping or a list of mappings, got %s", Describe(src))
				continue
			}
			if *budget--; *budget < 0 {
				d.Add(src.Line, Join(f.Path, "<<"), "merges nest more than %d mappings deep; flatten them", maxMergeNodes)
				return
			}
			d.collect(f, src, known, typos, budget, false)
		}
	}
}

func contains(known []string, s string) bool {
	for _, k := range known {
		if k == s {
			return true
		}
	}
	return false
}

// Value returns the value of name, or nil if it is absent or null.
func (f *Fields) Value(name string) *yaml.Node {
	v := f.vals[name]
	if IsNull(v) {
		return nil
	}
	return Resolve(v)
}

// Keys returns the keys set, in file order (merged keys after explicit ones).
func (f *Fields) Keys() []string { return f.keys }

// KeyLine is the line of name's key, or of the mapping when it is absent.
func (f *Fields) KeyLine(name string) int {
	if l, ok := f.keyLines[name]; ok {
		return l
	}
	return f.Line
}

// Raw returns name's value as written (aliases not followed), nil if absent.
func (f *Fields) Raw(name string) *yaml.Node { return f.vals[name] }

// Has reports whether name is set to something other than null.
func (f *Fields) Has(name string) bool { return f.Value(name) != nil }

// LineOf is the line of name's value, or of the mapping when it is absent.
func (f *Fields) LineOf(name string) int {
	if v := f.Value(name); v != nil {
		return v.Line
	}
	return f.Line
}

// Str reads a string. Any scalar counts, as its literal text (YAML reads
// `token: 12345` as a number; a file that means text means the text).
func (d *Decoder) Str(f *Fields, name string) string {
	v := f.Value(name)
	if v == nil {
		return ""
	}
	if v.Kind != yaml.ScalarNode {
		d.Fail(v.Line, Join(f.Path, name), "want a string, got %s", Describe(v))
		return ""
	}
	return v.Value
}

// Bool reads true or false.
func (d *Decoder) Bool(f *Fields, name string) bool {
	v := f.Value(name)
	if v == nil {
		return false
	}
	if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!bool" {
		d.Fail(v.Line, Join(f.Path, name), "want true or false, got %s", Describe(v))
		return false
	}
	var b bool
	if err := v.Decode(&b); err != nil {
		d.Fail(v.Line, Join(f.Path, name), "want true or false, got %s", Describe(v))
	}
	return b
}

// Int reads a whole number that fits in 32 bits; want says what the field
// wants, for the message.
func (d *Decoder) Int(f *Fields, name, want string) int {
	v := f.Value(name)
	if v == nil {
		return 0
	}
	var n int
	if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!int" || v.Decode(&n) != nil || n < math.MinInt32 || n > math.MaxInt32 {
		d.Fail(v.Line, Join(f.Path, name), "want %s, got %s", want, Describe(v))
		return 0
	}
	return n
}

// Number reads a float and reports whether it was present and valid.
func (d *Decoder) Number(f *Fields, name, want string) (float64, bool) {
	v := f.Value(name)
	if v == nil {
		return 0, false
	}
	var x float64
	tag := v.ShortTag()
	if v.Kind != yaml.ScalarNode || (tag != "!!int" && tag != "!!float") || v.Decode(&x) != nil {
		d.Fail(v.Line, Join(f.Path, name), "want %s, got %s", want, Describe(v))
		return 0, false
	}
	return x, true
}

// Duration reads a Go duration string; a bare 0 is accepted too.
func (d *Decoder) Duration(f *Fields, name string) time.Duration {
	v := f.Value(name)
	if v == nil {
		return 0
	}
	if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!int" && v.Value == "0" {
		return 0
	}
	if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!str" {
		d.Fail(v.Line, Join(f.Path, name), "want a duration such as \"90s\" or \"5m\", got %s (a bare number has no unit)", Describe(v))
		return 0
	}
	dur, err := time.ParseDuration(v.Value)
	if err != nil {
		d.Fail(v.Line, Join(f.Path, name), "want a duration such as \"90s\" or \"5m\", got %s", Describe(v))
		return 0
	}
	return dur
}

// Sequence reads a list of at most max items.
func (d *Decoder) Sequence(f *Fields, name, example string, max int) []*yaml.Node {
	v := f.Value(name)
	if v == nil {
		return nil
	}
	if v.Kind != yaml.SequenceNode {
		d.Fail(v.Line, Join(f.Path, name), "want a list such as %s, got %s", example, Describe(v))
		return nil
	}
	if len(v.Content) > max {
		d.Fail(v.Line, Join(f.Path, name), "%d items, more than the %d allowed", len(v.Content), max)
		return nil
	}
	return v.Content
}
