package engine

import (
	"errors"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

var yamlLineRE = regexp.MustCompile(`line (\d+)`)

// SyntaxDiagnostic reports yaml.v3's error err about the document data, the text of file, at
// the line where the problem is. yaml.v3 gives the line of the block enclosing the problem (a
// mis-indented key forty lines into a list is reported at the list's first line) and no column;
// this finds the first line whose addition makes the document fail the same way, and points at
// its first character, or at the tab that indents it. Flows, templates, test cases and
// bundle.yaml all report their syntax errors through it.
func SyntaxDiagnostic(file string, data []byte, err error) Diagnostic {
	msg := yamlErrMsg(err)
	p := yamlErrPos(err)
	lines := strings.SplitAfter(string(data), "\n")
	// The smallest prefix of whole lines that fails with the same message ends at the problem.
	// Prefixes that fail otherwise (cut inside a multi-line string) do not count.
	k := sort.Search(len(lines), func(k int) bool {
		var n yaml.Node
		err := yaml.Unmarshal([]byte(strings.Join(lines[:k+1], "")), &n)
		return err != nil && yamlErrMsg(err) == msg
	})
	if k < len(lines) && k+1 >= p.Line {
		line := strings.TrimRight(lines[k], "\r\n")
		indent := line[:len(line)-len(strings.TrimLeft(line, " \t"))]
		p = Pos{k + 1, len(indent) + 1}
		if i := strings.IndexByte(indent, '\t'); i >= 0 {
			return Diagnostic{File: file, Pos: Pos{k + 1, i + 1}, Severity: SevError,
				Message: "invalid YAML: a tab indents this line; indent with spaces"}
		}
		if i := strings.IndexByte(line, '\t'); i >= 0 && strings.Contains(msg, "cannot start any token") {
			return Diagnostic{File: file, Pos: Pos{k + 1, i + 1}, Severity: SevError,
				Message: "invalid YAML: a tab where YAML expects spaces; use spaces"}
		}
		if strings.HasSuffix(msg, "did not find expected key") || strings.HasSuffix(msg, "did not find expected '-' indicator") {
			msg += " (this line's indentation does not fit the block it is in)"
		}
	}
	return Diagnostic{File: file, Pos: p, Severity: SevError, Message: msg}
}

// yamlErrPos digs the line out of a yaml.v3 syntax error, which carries it only in its text.
// yaml.v3 counts the lines of its parser errors (as opposed to its scanner errors) from 0; they
// are the ones listed in yamlParserErrs.
func yamlErrPos(err error) Pos {
	m := yamlLineRE.FindStringSubmatch(err.Error())
	if m == nil {
		return Pos{1, 1}
	}
	n, _ := strconv.Atoi(m[1])
	for _, p := range yamlParserErrs {
		if strings.Contains(err.Error(), p) {
			n++
			break
		}
	}
	return Pos{n, 1}
}

var yamlParserErrs = []string{"did not find expected", "found duplicate %", "found incompatible YAML document", "found undefined tag handle"}

// decodeErrs reports an error of yaml.v3's Decode: each line of a TypeError (a duplicate key, a
// value of the wrong type) at its own line, anything else at p.
func (d diags) decodeErrs(p Pos, prefix string, err error) {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		d.errorf(p, "%s%v", prefix, err)
		return
	}
	for _, e := range te.Errors {
		q := p
		if m := yamlLineRE.FindStringSubmatch(e); m != nil && strings.HasPrefix(e, m[0]+": ") {
			q.Line, _ = strconv.Atoi(m[1])
			q.Col = 1
			e = strings.TrimPrefix(e, m[0]+": ")
		}
		d.errorf(q, "%s%s", prefix, e)
	}
}

// yamlErrMsg strips yaml.v3's "yaml: line N: " prefix, which the diagnostic's position repeats.
func yamlErrMsg(err error) string {
	s := strings.TrimPrefix(err.Error(), "yaml: ")
	if i := strings.Index(s, ": "); i >= 0 && strings.HasPrefix(s, "line ") {
		s = s[i+2:]
	}
	return "invalid YAML: " + s
}
