// Package strictyaml is the strict YAML reader behind siteverify's two file
// kinds, the fixtures file (mockserver/fixturefile) and the target file
// (suite/target). It parses exactly one YAML document within a size limit,
// then walks the node tree by hand so that every problem can name its line,
// its field path and the fix, and collects the problems it finds.
package strictyaml

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"strconv"

	"gopkg.in/yaml.v3"
)

// MaxFileSize is the largest file Parse accepts: 4 MiB.
const MaxFileSize = 4 << 20

// MaxNodes bounds the YAML nodes (keys, values, list items) a file may
// stand for, counting each alias as the whole node it names: the work and
// memory of every walk over a file is proportional to this count, so aliases
// cannot multiply it. The largest sensible fixtures file (10 000 named
// tokens with full specs) stands for about 300 000; a target file at the
// limit takes about 60 MiB and under a second of CPU to walk.
const MaxNodes = 1 << 19

// ErrNotRegular is the error ReadFile wraps when a path names something
// other than a regular file.
var ErrNotRegular = errors.New("not a regular file")

// ReadFile reads the file at path for Parse. It refuses anything but a
// regular file (a device such as /dev/zero, a FIFO, a directory) before
// opening it, and reads at most MaxFileSize+1 bytes, so that Parse reports a
// file that is too large without the rest being read. Errors name the path.
func ReadFile(path string) ([]byte, error) {
	// Stat before Open: opening a FIFO blocks until someone writes to it.
	fi, err := os.Stat(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			pe.Op = "open" // what the caller asked for, as os.ReadFile words it
		}
		return nil, err
	}
	if err := regular(path, fi); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// The path may name something else by now: check what was opened.
	if fi, err = f.Stat(); err != nil {
		return nil, err
	}
	if err := regular(path, fi); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return data, nil
}

func regular(path string, fi fs.FileInfo) error {
	m := fi.Mode()
	if m.IsRegular() {
		return nil
	}
	what := "not a regular file"
	switch {
	case m.IsDir():
		what = "a directory"
	case m&fs.ModeDevice != 0:
		what = "a device"
	case m&fs.ModeNamedPipe != 0:
		what = "a named pipe"
	case m&fs.ModeSocket != 0:
		what = "a socket"
	}
	return fmt.Errorf("%s is %s; give the path of a YAML file (at most %d bytes): %w", path, what, MaxFileSize, ErrNotRegular)
}

// Problem is one problem in a file.
type Problem struct {
	// Line is the 1-based line of the offending key or value; 0 when the
	// problem is with the file as a whole.
	Line int
	// Field is the path of the field, e.g. "tokens[1].spec.score"; empty
	// when the problem is with the file as a whole.
	Field string
	// Msg says what is wrong and what to write instead.
	Msg string
}

// Decoder parses one file and collects its problems. The zero value keeps
// every problem; set Max to keep fewer.
type Decoder struct {
	// Max bounds the problems kept; those beyond are only counted in More.
	// 0 means no bound.
	Max int
	// Hint, when set, returns advice appended to an unknown field's message
	// (e.g. "; the field is sitekey"), or "".
	Hint func(name string) string
	// Problems are the problems found so far, in the order found.
	Problems []Problem
	// More counts the problems found beyond Max.
	More int
	// Lines, when not nil, receives the line of every field path Decode
	// meets, e.g. "endpoints[0].url" (the line of its key).
	Lines map[string]int

	tainted map[string]bool
}

// Add records a problem.
func (d *Decoder) Add(line int, field, format string, args ...any) {
	if d.Max > 0 && len(d.Problems) >= d.Max {
		d.More++
		return
	}
	d.Problems = append(d.Problems, Problem{Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// Fail records a problem with the value at path and taints path: the value
// is unusable, so checks made afterwards on it or under it would only
// repeat this problem.
func (d *Decoder) Fail(line int, path, format string, args ...any) {
	d.Add(line, path, format, args...)
	d.Taint(path)
}

// Taint marks path as already reported; see Tainted.
func (d *Decoder) Taint(path string) {
	if d.tainted == nil {
		d.tainted = map[string]bool{}
	}
	d.tainted[path] = true
}

// Tainted reports whether path, or a path it lies under, has a problem
// recorded with Fail or Taint. A check that runs after decoding skips
// tainted paths, so that every problem is reported once, with one fix.
func (d *Decoder) Tainted(path string) bool {
	if len(d.tainted) == 0 {
		return false
	}
	if d.tainted[""] || d.tainted[path] {
		return true
	}
	for i := 0; i < len(path); i++ {
		if (path[i] == '.' || path[i] == '[') && d.tainted[path[:i]] {
			return true
		}
	}
	return false
}

// Empty reports whether no problem was recorded.
func (d *Decoder) Empty() bool { return len(d.Problems) == 0 && d.More == 0 }

// Count is the number of problems recorded, shown or not.
func (d *Decoder) Count() int { return len(d.Problems) + d.More }

// yamlLine matches the line number in yaml.v3's syntax errors.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// Parse parses data as exactly one YAML document and returns its top node.
// nil means the document is empty (no problem recorded) or the file cannot
// be used (problem recorded).
func (d *Decoder) Parse(data []byte) (root *yaml.Node) {
	if len(data) > MaxFileSize {
		d.Add(0, "", "the file is larger than %d bytes (4 MiB); trim it or split it", MaxFileSize)
		return nil
	}
	defer func() {
		// yaml.v3 reports errors by panicking internally and recovering; a
		// panic that escapes is a parser bug, reported as a problem with the
		// file rather than a crash of the program that loads it.
		if r := recover(); r != nil {
			d.Add(0, "", "invalid YAML: the parser failed (%v)", r)
			root = nil
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if !errors.Is(err, io.EOF) {
			d.yamlError(data, err)
		}
		return nil
	}
	var second yaml.Node
	switch err := dec.Decode(&second); {
	case err == nil:
		d.Add(second.Line, "", "a second YAML document (after ---); put everything in one document")
		return nil
	case !errors.Is(err, io.EOF):
		d.yamlError(data, err)
		return nil
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil
	}
	if !d.checkAliases(doc.Content[0]) {
		return nil
	}
	return doc.Content[0]
}

// checkAliases enforces the alias policy before any walk: the file may
// stand for at most MaxNodes nodes, counting each alias as the node it
// names, and no alias may name a node that contains it. The count takes
// one pass over the nodes as written, remembering the size of each
// anchored node, so it is cheap however much aliases multiply.
func (d *Decoder) checkAliases(root *yaml.Node) bool {
	const busy = -1
	sizes := map[*yaml.Node]int{} // anchored nodes: their expanded size, or busy
	ok := true
	var size func(n *yaml.Node) int
	size = func(n *yaml.Node) int {
		if n == nil || !ok {
			return 0
		}
		if n.Kind == yaml.AliasNode {
			if n.Alias == nil {
				return 1
			}
			if s, seen := sizes[n.Alias]; seen {
				if s == busy {
					ok = false
					d.Add(n.Line, "", "alias *%s names a node that contains it; a value cannot include itself", n.Value)
					return 0
				}
				return s
			}
			return size(n.Alias)
		}
		if s, seen := sizes[n]; seen && s != busy {
			return s // an anchored node met again, as written after an alias to it
		}
		if n.Anchor != "" {
			sizes[n] = busy
		}
		total := 1
		for _, c := range n.Content {
			total += size(c)
			if !ok {
				return 0
			}
			if total > MaxNodes {
				// Report where the limit was crossed, once.
				ok = false
				d.Add(c.Line, "", "the file stands for more than %d values once aliases are expanded (the limit); an alias repeats the whole node it names, so use fewer aliases or smaller anchored nodes", MaxNodes)
				return 0
			}
		}
		if n.Anchor != "" {
			sizes[n] = total
		}
		return total
	}
	size(root)
	return ok
}

func (d *Decoder) yamlError(data []byte, err error) {
	m := yamlLine.FindStringSubmatch(err.Error())
	if m == nil {
		d.Add(0, "", "invalid YAML: %v", err)
		return
	}
	line, _ := strconv.Atoi(m[1])
	if l := problemLine(data, err.Error()); l > line {
		line = l
	}
	d.Add(line, "", "invalid YAML: %s", m[2])
}

// problemLine finds the line a YAML syntax error is on. yaml.v3 reports the
// line where the enclosing block starts, which can be far above the mistake;
// the mistake is on the first line whose addition makes the file fail, found
// by bisection over whole-line prefixes. The answer is kept only if that
// prefix fails with the same message; 0 means unknown.
func problemLine(data []byte, msg string) int {
	var ends []int // ends[i] is the offset just past line i+1
	for i, b := range data {
		if b == '\n' {
			ends = append(ends, i+1)
		}
	}
	if len(ends) == 0 || ends[len(ends)-1] != len(data) {
		ends = append(ends, len(data))
	}
	fails := func(lines int) (string, bool) {
		var n yaml.Node
		err := yaml.Unmarshal(data[:ends[lines-1]], &n)
		if err == nil {
			return "", false
		}
		return err.Error(), true
	}
	// Invariant: lo lines parse, hi lines fail.
	lo, hi := 0, len(ends)
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if _, bad := fails(mid); bad {
			hi = mid
		} else {
			lo = mid
		}
	}
	got, _ := fails(hi)
	if stripLine(got) != stripLine(msg) {
		return 0
	}
	return hi
}

func stripLine(msg string) string {
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		return m[2]
	}
	return msg
}
