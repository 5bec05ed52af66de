package flowtest

import (
	"bytes"
	"context"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/providers"
)

// writeCase writes a case file and the example webhooks it may use into a temporary directory.
func writeCase(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	hooks, err := filepath.Glob("../testdata/cases/webhooks/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "webhooks"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, h := range hooks {
		data, err := os.ReadFile(h)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "webhooks", filepath.Base(h)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "case.test.yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func runCase(t *testing.T, path string) *Result {
	t.Helper()
	c, err := LoadCase(path)
	if err != nil {
		t.Fatal(err)
	}
	return Run(context.Background(), c, Options{Engine: exampleEngine(t), Channels: providers.Registry()})
}

func printed(r *Result, verbose bool) string {
	var b bytes.Buffer
	Print(&b, []*Result{r}, verbose)
	return b.String()
}

// TestFailureOutput checks that a wrong expectation fails with a diff naming the step, the
// expected message (-) and the one actually sent (+).
func TestFailureOutput(t *testing.T) {
	path := writeCase(t, `name: wrong menu
steps:
  - send: {text: hi}
    expect:
      - interactive: {type: button, buttons: [help, human]}
  - send: {button: help}
    expect: []
`)
	r := runCase(t, path)
	if r.Passed() {
		t.Fatal("case with wrong expectations passed")
	}
	out := printed(r, false)
	for _, want := range []string{
		"FAIL wrong menu",
		`step 1: send "hi"`,
		"- interactive: {type: button, buttons: [help, human]}    # button ids differ",
		"+ interactive: {type: button, buttons: [help, status, human]}",
		"step 2: send button help",
		"expected no message",
		"+ text: 'Here''s how I can help",
		"0 passed, 1 failed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestUnusedMockFails: an http mock no step used is a mistake in the case.
func TestUnusedMockFails(t *testing.T) {
	path := writeCase(t, `name: unused mock
http_mocks:
  - {method: GET, url: "https://api.example.com/orders/7", body: {state: lost}}
steps:
  - send: {text: hi}
    expect:
      - interactive: {type: button}
`)
	r := runCase(t, path)
	if r.Passed() {
		t.Fatal("case with an unused mock passed")
	}
	if out := printed(r, false); !strings.Contains(out, "http_mocks[0] (GET https://api.example.com/orders/7) was never used") {
		t.Errorf("output:\n%s", out)
	}
}

// TestStateExpectation checks the state: key against the conversation.
func TestStateExpectation(t *testing.T) {
	path := writeCase(t, `name: state
steps:
  - send: {button: status}
    expect:
      - text: "What's your order number?"
    state: {node: get_name, vars: {order_id: "1"}}
`)
	r := runCase(t, path)
	out := printed(r, false)
	for _, want := range []string{`state: waiting at "get_order_id", want "get_name"`, `state: vars.order_id is not set, want "1"`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestUpdate rewrites expectations from what was sent, keeping comments and other keys, and
// the rewritten case then passes.
func TestUpdate(t *testing.T) {
	path := writeCase(t, `# a comment that must survive
name: to update
steps:
  # the user says hi
  - send: {text: hi}
    expect:
      - text: wrong
  - send: {button: help}
    state: {node: ""}
`)
	r := runCase(t, path)
	if r.Passed() {
		t.Fatal("case passed before update")
	}
	changed, err := Update(r)
	if err != nil || !changed {
		t.Fatalf("Update = %v, %v", changed, err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := string(data)
	for _, want := range []string{"# a comment that must survive", "# the user says hi", "interactive: {type: button, buttons: [help, status, human]}", `state: {node: ""}`, "text: 'Here''s how I can help"} {
		if !strings.Contains(got, want) {
			t.Errorf("updated case lacks %q:\n%s", want, got)
		}
	}
	if r := runCase(t, path); !r.Passed() {
		t.Errorf("updated case fails:\n%s", printed(r, false))
	}
	r = runCase(t, path)
	if changed, err := Update(r); err != nil || changed {
		t.Errorf("second Update = %v, %v; want no change", changed, err)
	}
}

// TestJUnit writes a report CI systems can read.
func TestJUnit(t *testing.T) {
	pass := runCase(t, writeCase(t, "name: passes\nsteps:\n  - send: {text: hi}\n    expect: [{interactive: {type: button}}]\n"))
	fail := runCase(t, writeCase(t, "name: fails\nsteps:\n  - send: {text: hi}\n    expect: []\n"))
	path := filepath.Join(t.TempDir(), "junit.xml")
	if err := WriteJUnit(path, []*Result{pass, fail}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s junitSuite
	if err := xml.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	if s.Tests != 2 || s.Failures != 1 || len(s.Cases) != 2 || s.Cases[0].Failure != nil || s.Cases[1].Failure == nil {
		t.Fatalf("junit report:\n%s", data)
	}
	if !strings.Contains(s.Cases[1].Failure.Text, "expected no message") {
		t.Errorf("failure text: %s", s.Cases[1].Failure.Text)
	}
}

// TestBadCase reports a case file's problems with their positions.
func TestBadCase(t *testing.T) {
	_, err := ParseCase("bad.test.yaml", []byte("name: x\nsteps:\n  - send: {text: hi}\n    expect:\n      - txt: hello\n"))
	if err == nil || !strings.Contains(err.Error(), `bad.test.yaml:5:9: error: steps[0].expect[0]: unknown field "txt"`) {
		t.Fatalf("err = %v", err)
	}
	_, err = ParseCase("bad.test.yaml", []byte("steps:\n  - advance: 25 hours\n"))
	if err == nil || !strings.Contains(err.Error(), "bad.test.yaml:2:") {
		t.Fatalf("err = %v", err)
	}
}

// TestAdvanceFiresTimersOnTime: one long advance fires the input timeout at its own time (10
// minutes in, while the window is open), not at the end of the advance (when it is closed).
func TestAdvanceFiresTimersOnTime(t *testing.T) {
	path := writeCase(t, `name: long advance
steps:
  - send: {text: join}
    expect:
      - text: "Welcome to Acme! Let's set up your account. What's your name?"
  - advance: 25h
    expect:
      - text: "No rush. Send *join* whenever you're ready to continue."
    state: {node: ""}
`)
	if r := runCase(t, path); !r.Passed() {
		t.Fatal(printed(r, true))
	}
}
