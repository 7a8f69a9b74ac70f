package strictyaml

import (
	"encoding"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

var (
	unmarshalerType     = reflect.TypeFor[yaml.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// Decode reads n into the value out points to, guided by its type and the
// `yaml` tags of its struct fields, in one pass: unknown fields, duplicate
// keys and values of the wrong type are all reported, each at its line and
// field path, and each such path is tainted (see Tainted). A value with a
// problem is left at its zero value. path is n's own path ("" for the top).
//
// Supported: structs, pointers, slices, maps with string keys, strings, bools,
// integers, floats, interfaces (decoded by yaml.v3), and types implementing
// yaml.Unmarshaler or encoding.TextUnmarshaler (their error message becomes
// the problem's).
func (d *Decoder) Decode(n *yaml.Node, path string, out any) {
	v := reflect.ValueOf(out)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		d.Add(0, path, "internal error: Decode needs a non-nil pointer, got %T", out)
		return
	}
	if d.Lines != nil {
		d.Lines[path] = LineOf(Resolve(n))
	}
	d.decode(n, path, v.Elem())
}

func (d *Decoder) decode(n *yaml.Node, path string, v reflect.Value) {
	n = Resolve(n)
	if IsNull(n) {
		return
	}
	if pv := v.Addr(); pv.Type().Implements(unmarshalerType) {
		if err := pv.Interface().(yaml.Unmarshaler).UnmarshalYAML(n); err != nil {
			d.Fail(n.Line, path, "%s", err)
		}
		return
	}
	if pv := v.Addr(); pv.Type().Implements(textUnmarshalerType) && v.Kind() != reflect.Pointer {
		if n.Kind != yaml.ScalarNode {
			d.Fail(n.Line, path, "want a string, got %s", Describe(n))
		} else if err := pv.Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(n.Value)); err != nil {
			d.Fail(n.Line, path, "%s", err)
		}
		return
	}
	switch t := v.Type(); t.Kind() {
	case reflect.Pointer:
		e := reflect.New(t.Elem())
		d.decode(n, path, e.Elem())
		v.Set(e)
	case reflect.Struct:
		d.decodeStruct(n, path, v)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.Fail(n.Line, path, "want a list%s, got %s", listExample(t.Elem()), Describe(n))
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, el := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			d.line(p, LineOf(Resolve(el)))
			d.decode(el, p, s.Index(i))
		}
		v.Set(s)
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			d.Fail(n.Line, path, "unsupported map key type %s", t.Key())
			return
		}
		f := d.Mapping(n, path, "{name: value}", nil)
		if f == nil {
			return
		}
		m := reflect.MakeMapWithSize(t, len(f.keys))
		for _, k := range f.keys {
			p := path + "[" + strconv.Quote(k) + "]"
			d.line(p, f.keyLines[k])
			e := reflect.New(t.Elem()).Elem()
			d.decode(f.vals[k], p, e)
			m.SetMapIndex(reflect.ValueOf(k).Convert(t.Key()), e)
		}
		v.Set(m)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.Fail(n.Line, path, "want a string, got %s", Describe(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
			d.Fail(n.Line, path, "want true or false, got %s", Describe(n))
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		var i int64
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil || v.OverflowInt(i) {
			d.Fail(n.Line, path, "want a whole number, got %s", Describe(n))
			return
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		var u uint64
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&u) != nil || v.OverflowUint(u) {
			d.Fail(n.Line, path, "want a whole number of 0 or more, got %s", Describe(n))
			return
		}
		v.SetUint(u)
	case reflect.Float32, reflect.Float64:
		var x float64
		tag := n.ShortTag()
		if n.Kind != yaml.ScalarNode || (tag != "!!int" && tag != "!!float") || n.Decode(&x) != nil {
			d.Fail(n.Line, path, "want a number, got %s", Describe(n))
			return
		}
		v.SetFloat(x)
	case reflect.Interface:
		// Any YAML value; Parse has already bounded what aliases expand to.
		var x any
		if err := n.Decode(&x); err != nil {
			d.Fail(n.Line, path, "cannot read this value: %s", strings.TrimPrefix(err.Error(), "yaml: "))
			return
		}
		if x != nil {
			v.Set(reflect.ValueOf(x))
		}
	default:
		d.Fail(n.Line, path, "unsupported field type %s", t)
	}
}

func (d *Decoder) decodeStruct(n *yaml.Node, path string, v reflect.Value) {
	t := v.Type()
	names, index := structFields(t)
	f := d.Mapping(n, path, example(t), names)
	if f == nil {
		return
	}
	for _, k := range f.keys {
		p := Join(path, k)
		d.line(p, f.keyLines[k])
		d.decode(f.vals[k], p, v.FieldByIndex(index[k]))
	}
}

func (d *Decoder) line(path string, line int) {
	if d.Lines != nil {
		d.Lines[path] = line
	}
}

// structFields lists t's YAML field names in declaration order, with where
// each lives.
func structFields(t reflect.Type) ([]string, map[string][]int) {
	var names []string
	index := map[string][]int{}
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if !sf.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(sf.Name)
		}
		names = append(names, name)
		index[name] = sf.Index
	}
	return names, index
}

// listExample sketches a list of structs (" such as [{a: ..., b: ...}]"), or
// says nothing for a list of scalars, whose element type reads poorly.
func listExample(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return ""
	}
	return " such as [" + example(t) + "]"
}

// example sketches a value of type t for messages: {command: ..., dir: ...}.
func example(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		names, _ := structFields(t)
		return "{" + strings.Join(names, ": ..., ") + ": ...}"
	case reflect.Map:
		return "{name: value}"
	case reflect.Slice:
		return "[...]"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "1"
	case reflect.Float32, reflect.Float64:
		return "0.5"
	case reflect.Bool:
		return "true"
	}
	return "value"
}
