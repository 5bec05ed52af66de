package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/internal/bundle"
	"github.com/flowgate/flowgate/internal/version"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// flowctl runs the command in-process and returns its exit code and output.
func flowctl(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, strings.NewReader(""), &out, &errOut, func(string) string { return "" })
	return code, out.String(), errOut.String()
}

func TestValidateExamples(t *testing.T) {
	code, out, errOut := flowctl(t, "validate", "../../flows")
	if code != 0 || out != "" {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "0 error(s), 0 warning(s)") {
		t.Errorf("stderr: %s", errOut)
	}
}

// TestValidateInvalid runs every invalid flow of the engine's testdata through the command:
// each is rejected (exit 1) with exactly the diagnostics of its golden file.
func TestValidateInvalid(t *testing.T) {
	files, err := filepath.Glob("../../engine/testdata/invalid/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no invalid flows: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			golden, err := os.ReadFile(strings.TrimSuffix(f, ".yaml") + ".golden")
			if err != nil {
				t.Fatal(err)
			}
			code, out, _ := flowctl(t, "validate", f)
			want := strings.ReplaceAll(string(golden), "testdata/invalid/", "../../engine/testdata/invalid/")
			if strings.Contains(want, ": error: ") && code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			if !strings.Contains(want, ": error: ") && code != 0 {
				t.Errorf("exit %d for warnings only, want 0", code)
			}
			if out != want {
				t.Errorf("output:\n%s\nwant:\n%s", out, want)
			}
		})
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"frobnicate"}, {"graph"}, {"graph", "--format", "svg", "x.yaml"}, {"test", "--run", "("}} {
		if code, _, _ := flowctl(t, args...); code != 2 {
			t.Errorf("flowctl %q: exit %d, want 2", args, code)
		}
	}
}

// TestHelp: asking for help is no error (exit 0), prints the usage once, and help CMD shows that
// command's help on stdout.
func TestHelp(t *testing.T) {
	for _, cmd := range []string{"validate", "test", "graph", "chat"} {
		for _, flag := range []string{"-h", "--help"} {
			code, out, errOut := flowctl(t, cmd, flag)
			usage := "usage: flowctl " + cmd + " "
			if code != 0 || strings.Count(out+errOut, usage) != 1 {
				t.Errorf("flowctl %s %s: exit %d, usage printed %d times:\n%s%s", cmd, flag, code, strings.Count(out+errOut, usage), out, errOut)
			}
		}
		code, out, _ := flowctl(t, "help", cmd)
		if code != 0 || !strings.HasPrefix(out, "usage: flowctl "+cmd+" ") {
			t.Errorf("flowctl help %s: exit %d, stdout:\n%s", cmd, code, out)
		}
	}
	if code, _, errOut := flowctl(t, "help", "tset"); code != 2 || !strings.HasPrefix(errOut, `flowctl help: unknown command "tset"`) {
		t.Errorf("flowctl help tset: exit %d\n%s", code, errOut)
	}
}

// TestBadFlagValue: a flag value the command cannot use is named.
func TestBadFlagValue(t *testing.T) {
	code, _, errOut := flowctl(t, "graph", "--format", "png", "../../flows/handle_button.yaml")
	if want := "flowctl graph: --format png: want mermaid or dot\n"; code != 2 || errOut != want {
		t.Errorf("exit %d, stderr %q, want %q", code, errOut, want)
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := flowctl(t, "version")
	if want := "flowctl " + version.String() + "\n"; code != 0 || out != want {
		t.Errorf("exit %d, %q, want %q (the version gtc reports too)", code, out, want)
	}
}

// TestTestExamples replays the shipped cases through the command, as make test does.
func TestTestExamples(t *testing.T) {
	junit := filepath.Join(t.TempDir(), "junit.xml")
	code, out, errOut := flowctl(t, "test", "--bundle", "../..", "--junit", junit, "../../testdata/cases")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	last := lines[len(lines)-1]
	if !strings.HasSuffix(last, " passed, 0 failed") || strings.HasPrefix(last, "0 passed") {
		t.Errorf("last line %q", last)
	}
	data, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	var suite struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
	}
	if err := xml.Unmarshal(data, &suite); err != nil || suite.Tests != len(lines)-1 || suite.Failures != 0 {
		t.Errorf("junit: %+v %v", suite, err)
	}
}

// TestTestFailing: a wrong expectation exits 1 and shows the step and the diff.
func TestTestFailing(t *testing.T) {
	dir := t.TempDir()
	c := filepath.Join(dir, "wrong.test.yaml")
	if err := os.WriteFile(c, []byte("name: wrong\nsteps:\n  - send: {text: menu}\n    expect:\n      - text: hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ := flowctl(t, "test", "--bundle", "../..", c)
	if code != 1 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	for _, want := range []string{"FAIL wrong", `step 1: send "menu"`, "- text: hello", "+ interactive: {type: button, buttons: [help, status, human]}", "0 passed, 1 failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestNothingChecked: a check that finds nothing to check fails, saying where it looked, so that
// CI cannot pass having checked nothing.
func TestNothingChecked(t *testing.T) {
	empty := t.TempDir()
	cases := t.TempDir()
	c := filepath.Join(cases, "menu.test.yaml")
	if err := os.WriteFile(c, []byte("name: menu\nsteps:\n  - send: {text: menu}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"validate an empty folder", []string{"validate", empty},
			"flowctl validate: no flows found in " + empty + " (flow files are *.yaml or *.yml; a bundle keeps them in flows/)\n"},
		{"test a folder without cases", []string{"test", "--bundle", "../..", empty},
			"flowctl test: no test cases found in " + empty + " (case files are named *.test.yaml)\n"},
		{"test --run matching no case", []string{"test", "--bundle", "../..", "--run", "^nothing$", cases},
			"flowctl test: no test case matches --run \"^nothing$\" (1 case(s) in " + cases + ")\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := flowctl(t, tc.args...)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			if !strings.HasSuffix(errOut, tc.want) {
				t.Errorf("stderr:\n%s\nwant it to end with:\n%s", errOut, tc.want)
			}
			if strings.Contains(out, "0 passed, 0 failed") {
				t.Errorf("stdout reports an empty run as a result:\n%s", out)
			}
		})
	}
}

// TestFreshBundle: a bundle made by gtc setup validates, and its seeded cases pass.
func TestFreshBundle(t *testing.T) {
	answers, err := os.ReadFile("../../answers.example.json")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "bundle")
	if _, err := bundle.Setup(context.Background(), answers, dir, bundle.SetupOptions{}); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := flowctl(t, "validate", dir); code != 0 {
		t.Fatalf("validate: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut := flowctl(t, "test", "--bundle", dir)
	if code != 0 || strings.HasPrefix(lastLine(out), "0 passed") {
		t.Fatalf("test: exit %d\n%s%s", code, out, errOut)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func TestGraph(t *testing.T) {
	for _, format := range []string{"mermaid", "dot"} {
		t.Run(format, func(t *testing.T) {
			code, out, errOut := flowctl(t, "graph", "../../flows/handle_button.yaml", "--format", format)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			golden := filepath.Join("testdata", "handle_button."+format)
			if *update {
				if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if out != string(want) {
				t.Errorf("graph differs from %s (go test -update rewrites it):\n%s", golden, out)
			}
		})
	}
}

// TestTestUpdate: --update rewrites a case's expectations and reports the case as it runs
// afterwards; a case that still fails (here an unused mock, which --update cannot fix) exits 1.
func TestTestUpdate(t *testing.T) {
	dir := t.TempDir()
	fixable := filepath.Join(dir, "fixable.test.yaml")
	if err := os.WriteFile(fixable, []byte("name: fixable\nsteps:\n  - send: {text: menu}\n    expect:\n      - text: hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := flowctl(t, "test", "--bundle", "../..", "--update", fixable)
	if code != 0 || !strings.Contains(out, "ok  fixable") || !strings.Contains(out, "1 passed, 0 failed") || !strings.Contains(errOut, "updated "+fixable) {
		t.Errorf("fixable case: exit %d\n%s%s", code, out, errOut)
	}
	broken := filepath.Join(dir, "broken.test.yaml")
	if err := os.WriteFile(broken, []byte("name: broken\nhttp_mocks:\n  - {url: \"https://api.example.com/x\"}\nsteps:\n  - send: {text: menu}\n    expect:\n      - text: hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = flowctl(t, "test", "--bundle", "../..", "--update", broken)
	if code != 1 || !strings.Contains(out, "FAIL broken") || !strings.Contains(out, "was never used") || strings.Contains(out, "- text: hello") {
		t.Errorf("broken case: exit %d\n%s%s", code, out, errOut)
	}
}

// TestChat talks to the example flows as a user would: a number picks a button or a list row,
// /advance moves the clock, /start starts a flow as the API does, /state shows the wait.
func TestChat(t *testing.T) {
	script := strings.Join([]string{
		"hi", "1", // menu, then Get Help
		"support", "1", // list: Track my order
		"join", "/state", // onboarding waits for the name
		"/advance 25h", // the input times out
		"/state",
		"/start check_window", // the window is closed now: the template goes out
		"/start nope",
		"/advance soon",
		"/quit",
		"never read",
	}, "\n")
	var out, errOut bytes.Buffer
	code := run([]string{"chat", "--bundle", "../..", "--name", "Ann"}, strings.NewReader(script), &out, &errOut, func(string) string { return "" })
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errOut.String())
	}
	got := out.String()
	for _, want := range []string{
		"bot: What would you like to do?\n     [1] Get Help\n     [2] Check Status\n     [3] Talk to Human\n",
		"bot: Here's how I can help",
		"[1] Track my order: See where your parcel is right now",
		"bot: You can track your order",
		"waiting at onboarding/get_name",
		"bot: No rush. Send *join* whenever you're ready to continue.\n> not waiting",
		"bot: [template follow_up (en)]",
		`(error: start: no flow "nope")`,
		"usage: /advance DURATION",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("chat output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "never read") {
		t.Error("input after /quit was read")
	}
}

// TestValidateWithoutTemplates: a flow copied out of its bundle, with no templates.yaml beside it
// or one folder up, validates; each template it sends is a warning that it cannot be checked.
func TestValidateWithoutTemplates(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile("../../flows/order_confirmation.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, "order_confirmation.yaml")
	if err := os.WriteFile(f, data, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := flowctl(t, "validate", f)
	want := f + `:16:13: warning: node "send_confirmation": cannot check template "order_confirmation": no templates.yaml (list the approved templates in templates.yaml beside the flows or one folder up)` + "\n"
	if code != 0 || !strings.HasPrefix(out, want) || strings.Contains(out, ": error: ") {
		t.Errorf("exit %d\nstdout:\n%s\nwant it to start with:\n%s\nstderr:\n%s", code, out, want, errOut)
	}
	// With templates.yaml beside it, the template is checked: no such warning.
	tpl, err := os.ReadFile("../../flows/templates.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "templates.yaml"), tpl, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := flowctl(t, "validate", f); code != 0 || strings.Contains(out, "cannot check template") {
		t.Errorf("with templates.yaml: exit %d\n%s", code, out)
	}
}
