package fixturefile

import (
	"fmt"
	"math"
	"time"

	"gopkg.in/yaml.v3"
)

// decoder walks the YAML node tree by hand, so that every problem can name
// its line and field, and collects the problems it finds.
type decoder struct {
	problems
}

// fields is one YAML mapping, its values by key, with merge keys applied.
type fields struct {
	path string
	line int
	vals map[string]*yaml.Node
}

// maxMergeNodes bounds the mappings one merge key ("<<") may pull in,
// nested merges included, so a hostile file cannot make the walk blow up.
const maxMergeNodes = 64

// resolve follows aliases to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 16; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	n = resolve(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// describe names what a node is, for messages: `"abc" (a string)`, `a list`.
func describe(n *yaml.Node) string {
	n = resolve(n)
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

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// mapping reads n as a mapping with the given known keys, reporting unknown
// and duplicate keys. It returns nil, with a problem recorded, when n is not
// a mapping.
func (d *decoder) mapping(n *yaml.Node, path, example string, known []string) *fields {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		line := 0
		if n != nil {
			line = n.Line
		}
		d.add(line, path, "want a mapping such as %s, got %s", example, describe(n))
		return nil
	}
	f := &fields{path: path, line: n.Line, vals: map[string]*yaml.Node{}}
	keyLines := map[string]int{}
	budget := maxMergeNodes
	d.collect(f, n, known, keyLines, &budget, true)
	return f
}

// collect adds n's keys to f: explicit keys first (a repeat is an error),
// then keys from merged mappings that are not already set, as YAML's merge
// key defines.
func (d *decoder) collect(f *fields, n *yaml.Node, known []string, keyLines map[string]int, budget *int, explicit bool) {
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if k == nil || k.Kind != yaml.ScalarNode {
			d.add(n.Content[i].Line, f.path, "a key must be a plain name, got %s", describe(k))
			continue
		}
		if k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		name := k.Value
		if !contains(known, name) {
			d.add(k.Line, join(f.path, name), "unknown field%s (known: %s)%s", suggest(name, known), list(known), hint(name))
			continue
		}
		if first, dup := keyLines[name]; dup {
			if explicit {
				d.add(k.Line, join(f.path, name), "set twice (first on line %d); keep one", first)
			}
			continue
		}
		keyLines[name] = k.Line
		f.vals[name] = v
	}
	for _, m := range merges {
		m = resolve(m)
		var sources []*yaml.Node
		switch {
		case m != nil && m.Kind == yaml.MappingNode:
			sources = []*yaml.Node{m}
		case m != nil && m.Kind == yaml.SequenceNode:
			sources = m.Content
		default:
			d.add(lineOf(m), join(f.path, "<<"), "a merge key needs a mapping or a list of mappings, got %s", describe(m))
			continue
		}
		for _, src := range sources {
			src = resolve(src)
			if src == nil || src.Kind != yaml.MappingNode {
				d.add(lineOf(src), join(f.path, "<<"), "a merge key needs a mapping or a list of mappings, got %s", describe(src))
				continue
			}
			if *budget--; *budget < 0 {
				d.add(src.Line, join(f.path, "<<"), "merges nest more than %d mappings deep; flatten them", maxMergeNodes)
				return
			}
			d.collect(f, src, known, keyLines, budget, false)
		}
	}
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

func lineOf(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	return n.Line
}

func contains(known []string, s string) bool {
	for _, k := range known {
		if k == s {
			return true
		}
	}
	return false
}

// value returns the value of name, or nil if it is absent or null.
func (f *fields) value(name string) *yaml.Node {
	v := f.vals[name]
	if isNull(v) {
		return nil
	}
	return resolve(v)
}

// has reports whether name is set to something other than null.
func (f *fields) has(name string) bool { return f.value(name) != nil }

// line is the line of name's value, or of the mapping when it is absent.
func (f *fields) lineOf(name string) int {
	if v := f.value(name); v != nil {
		return v.Line
	}
	return f.line
}

// str reads a string. Any scalar counts, as its literal text (YAML reads
// `token: 12345` as a number; the fixture means the text).
func (d *decoder) str(f *fields, name string) string {
	v := f.value(name)
	if v == nil {
		return ""
	}
	if v.Kind != yaml.ScalarNode {
		d.add(v.Line, join(f.path, name), "want a string, got %s", describe(v))
		return ""
	}
	return v.Value
}

func (d *decoder) boolean(f *fields, name string) bool {
	v := f.value(name)
	if v == nil {
		return false
	}
	if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!bool" {
		d.add(v.Line, join(f.path, name), "want true or false, got %s", describe(v))
		return false
	}
	var b bool
	if err := v.Decode(&b); err != nil {
		d.add(v.Line, join(f.path, name), "want true or false, got %s", describe(v))
	}
	return b
}

func (d *decoder) integer(f *fields, name, want string) int {
	v := f.value(name)
	if v == nil {
		return 0
	}
	var n int
	if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!int" || v.Decode(&n) != nil || n < math.MinInt32 || n > math.MaxInt32 {
		d.add(v.Line, join(f.path, name), "want %s, got %s", want, describe(v))
		return 0
	}
	return n
}

// number reads a float and reports whether it was present.
func (d *decoder) number(f *fields, name, want string) (float64, bool) {
	v := f.value(name)
	if v == nil {
		return 0, false
	}
	var x float64
	tag := v.ShortTag()
	if v.Kind != yaml.ScalarNode || (tag != "!!int" && tag != "!!float") || v.Decode(&x) != nil {
		d.add(v.Line, join(f.path, name), "want %s, got %s", want, describe(v))
		return 0, false
	}
	return x, true
}

// duration reads a Go duration string; a bare 0 is accepted too.
func (d *decoder) duration(f *fields, name string) time.Duration {
	v := f.value(name)
	if v == nil {
		return 0
	}
	if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!int" && v.Value == "0" {
		return 0
	}
	if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!str" {
		d.add(v.Line, join(f.path, name), "want a duration such as \"90s\" or \"5m\", got %s (a bare number has no unit)", describe(v))
		return 0
	}
	dur, err := time.ParseDuration(v.Value)
	if err != nil {
		d.add(v.Line, join(f.path, name), "want a duration such as \"90s\" or \"5m\", got %s", describe(v))
		return 0
	}
	return dur
}

// sequence reads a list of at most max items.
func (d *decoder) sequence(f *fields, name, example string, max int) []*yaml.Node {
	v := f.value(name)
	if v == nil {
		return nil
	}
	if v.Kind != yaml.SequenceNode {
		d.add(v.Line, join(f.path, name), "want a list such as %s, got %s", example, describe(v))
		return nil
	}
	if len(v.Content) > max {
		d.add(v.Line, join(f.path, name), "%d items, more than the %d allowed", len(v.Content), max)
		return nil
	}
	return v.Content
}
