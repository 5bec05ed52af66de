// Package scriptcmd holds the testscript commands that the script tests of gtc and flowctl
// share.
package scriptcmd

import (
	"os"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
)

// Replace is the command "replace OLD NEW FILE": it replaces every OLD in FILE with NEW, as an
// author editing a file would. OLD must occur, so that a script cannot silently test nothing.
// Quoted arguments may hold \n and \t, for edits to indentation and line breaks.
func Replace(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: replace OLD NEW FILE")
	}
	unescape := strings.NewReplacer(`\n`, "\n", `\t`, "\t")
	old, repl := unescape.Replace(args[0]), unescape.Replace(args[1])
	p := ts.MkAbs(args[2])
	data, err := os.ReadFile(p)
	ts.Check(err)
	if !strings.Contains(string(data), old) {
		ts.Fatalf("%s does not contain %q", args[2], old)
	}
	ts.Check(os.WriteFile(p, []byte(strings.ReplaceAll(string(data), old, repl)), 0o644))
}
