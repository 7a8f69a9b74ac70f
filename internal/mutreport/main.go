// Command mutreport summarises the mutation runs of `make mutate`: for each
// gremlins JSON report it prints the score of the package, and it lists every
// surviving mutant that equivalent.txt does not explain. It exits 1 when a
// survivor is unexplained, so a new weak spot in the tests cannot go unseen.
//
// A line of equivalent.txt names one survivor and says why no test can kill it:
//
//	mockserver/spent.go  CONDITIONALS_BOUNDARY  col 20  `if len(sh.expiry) >= sh.nextSweep {`  why: ...
//
// Survivors are matched by file, mutator, column and the trimmed text of their
// source line, not by line number, so unrelated edits do not invalidate the list.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// report is the part of a gremlins JSON report that is read here.
type report struct {
	Files []struct {
		Name      string `json:"file_name"`
		Mutations []struct {
			Type   string `json:"type"`
			Status string `json:"status"`
			Line   int    `json:"line"`
			Column int    `json:"column"`
		} `json:"mutations"`
	} `json:"files"`
	Elapsed float64 `json:"elapsed_time"`
}

// survivor is one mutant that lived, with the source line it changed.
type survivor struct {
	file, typ, text string
	line, col       int
}

func (s survivor) key() string {
	return fmt.Sprintf("%s|%s|%d|%s", s.file, s.typ, s.col, s.text)
}

func main() {
	equiv := flag.String("equivalents", "internal/mutreport/equivalent.txt", "the list of survivors explained as equivalent")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: mutreport [-equivalents FILE] PKGDIR=REPORT.json ...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	explained, err := readEquivalents(*equiv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mutreport:", err)
		os.Exit(2)
	}
	unexplained := 0
	for _, arg := range flag.Args() {
		dir, path, ok := strings.Cut(arg, "=")
		if !ok {
			fmt.Fprintf(os.Stderr, "mutreport: %q: want PKGDIR=REPORT.json\n", arg)
			os.Exit(2)
		}
		n, err := summarise(os.Stdout, dir, path, explained)
		if err != nil {
			fmt.Fprintln(os.Stderr, "mutreport:", err)
			os.Exit(2)
		}
		unexplained += n
	}
	if unexplained > 0 {
		fmt.Printf("\n%d surviving mutants are neither killed nor explained in %s\n", unexplained, *equiv)
		os.Exit(1)
	}
}

// summarise prints one package's score and its survivors, and returns how
// many survivors are not explained.
func summarise(w io.Writer, dir, path string, explained map[string]string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	counts := map[string]int{}
	var lived []survivor
	for _, f := range r.Files {
		file := filepath.ToSlash(filepath.Join(dir, f.Name))
		for _, m := range f.Mutations {
			counts[m.Status]++
			if m.Status == "LIVED" {
				lived = append(lived, survivor{file: file, typ: m.Type, line: m.Line, col: m.Column, text: sourceLine(file, m.Line)})
			}
		}
	}
	sort.Slice(lived, func(i, j int) bool {
		if lived[i].file != lived[j].file {
			return lived[i].file < lived[j].file
		}
		return lived[i].line < lived[j].line
	})
	killed := counts["KILLED"] + counts["TIMED OUT"]
	equivalent, open := 0, 0
	for _, s := range lived {
		if _, ok := explained[s.key()]; ok {
			equivalent++
		} else {
			open++
		}
	}
	// The score counts equivalent mutants out: no test can tell them from the original.
	score := 100.0
	if d := killed + len(lived) - equivalent; d > 0 {
		score = 100 * float64(killed) / float64(d)
	}
	fmt.Fprintf(w, "%s: %.1f%% mutation score: %d killed (%d by time-out), %d lived (%d explained as equivalent), %d not covered, %d not viable, in %.0f s\n",
		dir, score, killed, counts["TIMED OUT"], len(lived), equivalent, counts["NOT COVERED"], counts["NOT VIABLE"], r.Elapsed)
	for _, s := range lived {
		if why, ok := explained[s.key()]; ok {
			fmt.Fprintf(w, "  equivalent %s:%d:%d %s: %s\n", s.file, s.line, s.col, s.typ, why)
		}
	}
	for _, s := range lived {
		if _, ok := explained[s.key()]; !ok {
			fmt.Fprintf(w, "  SURVIVED   %s:%d:%d %s  `%s`\n", s.file, s.line, s.col, s.typ, s.text)
		}
	}
	return open, nil
}

func sourceLine(file string, line int) string {
	f, err := os.Open(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		if n == line {
			return strings.TrimSpace(sc.Text())
		}
	}
	return ""
}

var equivLine = regexp.MustCompile("^(\\S+)\\s+([A-Z_]+)\\s+col (\\d+)\\s+`(.*)`\\s+why: (.+)$")

func readEquivalents(path string) (map[string]string, error) {
	out := map[string]string{}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := equivLine.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("%s:%d: want FILE TYPE col N `source line` why: REASON", path, n)
		}
		s := survivor{file: m[1], typ: m[2], text: m[4]}
		fmt.Sscan(m[3], &s.col)
		out[s.key()] = m[5]
	}
	return out, sc.Err()
}
