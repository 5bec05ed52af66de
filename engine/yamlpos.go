package engine

import (
	"regexp"
	"strconv"
	"strings"
)

var yamlLineRE = regexp.MustCompile(`line (\d+)`)

// yamlErrPos digs the line out of a yaml.v3 syntax error, which carries it only in its text.
func yamlErrPos(err error) Pos {
	m := yamlLineRE.FindStringSubmatch(err.Error())
	if m == nil {
		return Pos{1, 1}
	}
	n, _ := strconv.Atoi(m[1])
	return Pos{n, 1}
}

// yamlErrMsg strips yaml.v3's "yaml: line N: " prefix, which the diagnostic's position repeats.
func yamlErrMsg(err error) string {
	s := strings.TrimPrefix(err.Error(), "yaml: ")
	if i := strings.Index(s, ": "); i >= 0 && strings.HasPrefix(s, "line ") {
		s = s[i+2:]
	}
	return "invalid YAML: " + s
}
