package engine

import (
	"errors"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

var yamlLineRE = regexp.MustCompile(`line (\d+)`)

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
