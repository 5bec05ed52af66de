package bundle

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// EnvFile is the name of the file, in the bundle directory, that holds values for ${NAME}
// references the environment does not set. gtc setup writes the generated admin API token
// there (mode 0600).
const EnvFile = ".env"

// resolver resolves ${NAME} references: from the environment first, then from the bundle's .env.
type resolver struct {
	getenv  func(string) string
	dotenv  map[string]string
	envPath string // the .env path, for messages
	offline bool   // unresolved references are no problem (LoadOptions.Offline)
}

func (r *resolver) lookup(name string) (string, bool) {
	if r.getenv != nil {
		if v := r.getenv(name); v != "" {
			return v, true
		}
	}
	v, ok := r.dotenv[name]
	return v, ok && v != ""
}

// resolve returns s with a whole-value ${NAME} reference replaced by its value. missing is NAME
// when the reference cannot be resolved.
func (r *resolver) resolve(s string) (val, missing string) {
	name := RefName(s)
	if name == "" {
		return s, ""
	}
	if v, ok := r.lookup(name); ok {
		return v, ""
	}
	return "", name
}

// missingMsg is the message for an unresolved reference.
func (r *resolver) missingMsg(name string) string {
	return fmt.Sprintf("${%s} is not set: export %s in the environment or add %s=... to %s", name, name, name, r.envPath)
}

// parseDotenv reads KEY=VALUE lines. Blank lines and lines starting with # are skipped, an
// optional "export " prefix is allowed, and a value in single or double quotes loses them.
// It returns the values and the 1-based lines it could not read.
func parseDotenv(data []byte) (map[string]string, []int) {
	vals := map[string]string{}
	var bad []int
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || RefName("${"+k+"}") != k {
			bad = append(bad, n)
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
			v = v[1 : len(v)-1]
		}
		vals[k] = v
	}
	return vals, bad
}

// setDotenv returns data with KEY set to value: the line that sets KEY is replaced, or a line is
// appended. Other lines are kept as they are.
func setDotenv(data []byte, key, value string) []byte {
	var out bytes.Buffer
	found := false
	lines := strings.SplitAfter(string(data), "\n")
	for _, l := range lines {
		if l == "" {
			continue
		}
		t := strings.TrimPrefix(strings.TrimSpace(l), "export ")
		if k, _, ok := strings.Cut(t, "="); ok && strings.TrimSpace(k) == key && !found {
			found = true
			fmt.Fprintf(&out, "%s=%s\n", key, dotenvValue(value))
			continue
		}
		out.WriteString(l)
		if !strings.HasSuffix(l, "\n") {
			out.WriteByte('\n')
		}
	}
	if !found {
		fmt.Fprintf(&out, "%s=%s\n", key, dotenvValue(value))
	}
	return out.Bytes()
}

// dotenvValue writes v so that parseDotenv reads it back as v: a value that itself starts and
// ends with the same quote would lose those quotes, so it is wrapped in the other kind.
func dotenvValue(v string) string {
	if len(v) >= 2 && v[0] == v[len(v)-1] && (v[0] == '"' || v[0] == '\'') {
		if v[0] == '"' {
			return "'" + v + "'"
		}
		return `"` + v + `"`
	}
	return v
}
