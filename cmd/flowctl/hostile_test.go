package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hostileBundle is a bundle whose flow runs the hostile-input report's expressions: a reduce
// that builds a string quadratically, and repeat on the user's text.
const hostileBundle = `name: hostile
channels: [whatsapp]
triggers:
  - {type: message, keywords: [grow], target: grow}
  - {type: message, pattern: "^shout ", target: shout}
  - {type: message, keywords: [hi], target: hello}
nodes:
  - id: grow
    type: set
    config:
      vars: {big: "reduce(1..200000, #acc + 'xxxxxxxxxx', '')"}
    next: grown
  - id: grown
    type: reply
    config: {message: "grown"}
  - id: shout
    type: reply
    config: {message: "{{ repeat(input, 1000000) }}"}
  - id: hello
    type: reply
    config: {message: "Hello"}
`

// TestHostileExpressions: flowctl validate warns about both expressions, and flowctl test
// shows each ending its run with a budget entry and no message, after which the conversation
// answers the next message and STOP.
func TestHostileExpressions(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "flows"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "flows", "hostile.yaml"), []byte(hostileBundle), 0o644); err != nil {
		t.Fatal(err)
	}
	code, diags, _ := flowctl(t, "validate", filepath.Join(dir, "flows"))
	if code != 0 || !strings.Contains(diags, "reduce that joins strings onto #acc") || !strings.Contains(diags, "repeat of computed values") {
		t.Fatalf("validate: exit %d, want 0 with warnings about both expressions:\n%s", code, diags)
	}
	cases := filepath.Join(dir, "cases")
	if err := os.MkdirAll(cases, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, hostile := range map[string]string{"grow": "grow", "shout": "shout " + strings.Repeat("y", 2000)} {
		c := "name: " + name + "\nsteps:\n  - send: {text: \"" + hostile + "\"}\n    expect: []\n" +
			"  - send: {text: hi}\n    expect: [{text: Hello}]\n" +
			"  - send: {text: STOP}\n    expect: [{text: \"You have been unsubscribed and will get no more messages. Send START to subscribe again.\"}]\n"
		if err := os.WriteFile(filepath.Join(cases, name+".test.yaml"), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errOut := flowctl(t, "test", "-v", "--bundle", dir, cases)
	if code != 0 || !strings.HasPrefix(lastLine(out), "2 passed") {
		t.Fatalf("test: exit %d\n%s%s", code, out, errOut)
	}
	if n := strings.Count(out, "run ended: an expression went over limits.expr_"); n != 2 {
		t.Errorf("%d budget entries in the trace, want 2:\n%s", n, out)
	}
}
