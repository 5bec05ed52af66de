package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/internal/golden"
)

// chatScript runs flowctl chat with the lines as its input and returns its exit code and output.
func chatScript(t *testing.T, args []string, lines ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(append([]string{"chat"}, args...), strings.NewReader(strings.Join(lines, "\n")+"\n"), &out, &errOut, func(string) string { return "" })
	return code, out.String(), errOut.String()
}

// echo is chat output as a terminal shows it: each prompt followed by the line typed at it.
func echo(out string, inputs []string) string {
	var b strings.Builder
	k := 0
	for _, line := range strings.SplitAfter(out, "\n") {
		for strings.HasPrefix(line, "> ") && k < len(inputs) {
			b.WriteString("> " + inputs[k] + "\n")
			k++
			line = line[len("> "):]
		}
		b.WriteString(line)
	}
	return b.String()
}

// contains reports each of wants that out lacks.
func contains(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// copyFile copies src to dst, making dst's directory.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestChatExample plays the session of docs/testing.md, kept in testdata/chat/order_status.session:
// the command on its first line, then what the terminal shows, the lines typed after each
// prompt. It runs in a copy of the repository's flows, where /save writes the case; the saved
// case is testdata/chat/order_status.test.yaml, and flowctl test passes it. The docs show both
// files as they are. go test -update rewrites them from the session's own input lines.
func TestChatExample(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	sessionFile := filepath.Join(root, "testdata/chat/order_status.session")
	caseFile := filepath.Join(root, "testdata/chat/order_status.test.yaml")
	session, err := os.ReadFile(sessionFile)
	if err != nil {
		t.Fatal(err)
	}
	command, transcript, _ := strings.Cut(string(session), "\n")
	args, ok := strings.CutPrefix(command, "$ flowctl chat ")
	if !ok {
		t.Fatalf("%s: the first line is not a flowctl chat command: %q", sessionFile, command)
	}
	var inputs []string
	for _, line := range strings.Split(transcript, "\n") {
		if in, ok := strings.CutPrefix(line, "> "); ok {
			inputs = append(inputs, in)
		}
	}
	dir := t.TempDir()
	flows, err := filepath.Glob(filepath.Join(root, "flows/*.yaml"))
	if err != nil || len(flows) == 0 {
		t.Fatalf("no flows: %v", err)
	}
	for _, f := range flows {
		copyFile(t, f, filepath.Join(dir, "flows", filepath.Base(f)))
	}
	copyFile(t, filepath.Join(root, "testdata/chat/mocks.yaml"), filepath.Join(dir, "testdata/chat/mocks.yaml"))
	t.Chdir(dir)

	code, out, errOut := chatScript(t, strings.Fields(args), inputs...)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	golden.Check(t, sessionFile, []byte(command+"\n"+echo(out, inputs)), *update)
	saved, err := os.ReadFile("order_status.test.yaml")
	if err != nil {
		t.Fatalf("/save wrote no case: %v\n%s", err, out)
	}
	golden.Check(t, caseFile, saved, *update)

	code, out, errOut = flowctl(t, "test", "--bundle", ".", "order_status.test.yaml")
	if code != 0 || !strings.HasSuffix(out, "1 passed, 0 failed\n") {
		t.Errorf("the saved case does not pass: exit %d\n%s%s", code, out, errOut)
	}

	doc, err := os.ReadFile(filepath.Join(root, "docs/testing.md"))
	if err != nil {
		t.Fatal(err)
	}
	mocks, err := os.ReadFile(filepath.Join(root, "testdata/chat/mocks.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string][]byte{sessionFile: session, caseFile: saved, "testdata/chat/mocks.yaml": mocks} {
		if !bytes.Contains(doc, text) {
			t.Errorf("docs/testing.md does not show %s as it is:\n%s", name, text)
		}
	}
}

// TestChatMocks: with --mocks, an http node's request is answered by its mock, and one without
// a mock fails, saying so, and reaches no network; the flow's on_error answers. /save keeps the
// mocks used, not the others. Without --mocks, the chat says that http nodes call the real
// services.
func TestChatMocks(t *testing.T) {
	dir := t.TempDir()
	mocks := filepath.Join(dir, "mocks.yaml")
	if err := os.WriteFile(mocks, []byte("http_mocks:\n  - {url: \"https://api.example.com/orders/1042\", body: {state: shipped}}\n  - {url: \"https://api.example.com/orders/5\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	saved := filepath.Join(dir, "s.test.yaml")
	code, out, errOut := chatScript(t, []string{"--bundle", "../..", "--mocks", mocks},
		"hi", "2", "77", // no mock for order 77
		"/start handle_button check_status", // order_id is 77 now: the same request again
		"/save "+saved)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	miss := "(no mock in " + mocks + " for GET https://api.example.com/orders/77: the http node failed)\n"
	contains(t, out,
		"(http nodes are answered from "+mocks+"; nothing reaches the network)\n",
		miss+"bot: Sorry, I can't look up order 77 right now.",
	)
	if n := strings.Count(out, miss); n != 2 {
		t.Errorf("the missing mock is reported %d times, want once per request:\n%s", n, out)
	}
	// The case expects the on_error answers, with no mocks: the failed requests fail again.
	data, err := os.ReadFile(saved)
	if err != nil {
		t.Fatalf("not saved: %v\n%s", err, out)
	}
	if strings.Contains(string(data), "http_mocks") {
		t.Errorf("the case has mocks the conversation never used:\n%s", data)
	}
	if code, out, errOut := flowctl(t, "test", "--bundle", "../..", saved); code != 0 {
		t.Errorf("saved case: exit %d\n%s%s\n%s", code, out, errOut, data)
	}

	code, out, _ = chatScript(t, []string{"--bundle", "../..", "--mocks", mocks}, "hi", "2", "1042", "/save! "+saved)
	if code != 0 || !strings.Contains(out, "bot: Order 1042 is shipped.") || !strings.Contains(out, "and 1 mock(s) to "+saved) {
		t.Errorf("mocked lookup: exit %d\n%s", code, out)
	}
	if code, out, errOut := flowctl(t, "test", "--bundle", "../..", saved); code != 0 {
		t.Errorf("saved case with a mock: exit %d\n%s%s", code, out, errOut)
	}

	_, out, _ = chatScript(t, []string{"--bundle", "../.."}, "/quit")
	if !strings.Contains(out, "(http nodes call the real services; --mocks FILE answers them from mocks)\n") {
		t.Errorf("without --mocks the chat does not say where http nodes go:\n%s", out)
	}
}

// TestChatBadFlags: a mocks file that breaks the case schema, or a clock that is no time, is a
// usage error naming the problem.
func TestChatBadFlags(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("http_mocks:\n  - {status: 200}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--mocks", bad}, bad + `:2:5: error: http_mocks[0]: missing required field "url"`},
		{[]string{"--mocks", bad + ".missing"}, "flowctl chat: --mocks: open " + bad + ".missing"},
		{[]string{"--clock", "tomorrow"}, "flowctl chat: --clock tomorrow: want an RFC 3339 time"},
	} {
		code, _, errOut := chatScript(t, append([]string{"--bundle", "../.."}, tc.args...), "hi")
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%q: exit %d, stderr %q, want it to contain %q", tc.args, code, errOut, tc.want)
		}
	}
}

// TestChatSilence: when the bot sends nothing, a line says why; when it sends, no such line.
func TestChatSilence(t *testing.T) {
	code, out, errOut := chatScript(t, []string{"--bundle", "../.."},
		"hello again",
		"join", "/advance 10m", // onboarding's name question times out: it answers
		"/advance 25h", "/start check_window", // the template goes out on a closed window
		"/start onboarding",               // onboarding's window_fallback goes out
		"/start handle_button ask_action", // the menu has no fallback at any level
		"STOP", "hi",
	)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	contains(t, out,
		"> (no reply: no trigger matched \"hello again\")\n",
		"bot: No rush. Send *join* whenever you're ready to continue.\n",
		"bot: [template follow_up (en)]",
		"> (no reply: handle_button/ask_action: interactive message not sent: window closed and no fallback template)\n",
		"> (no reply: opted out: no flow runs)\n",
	)
	if n := strings.Count(out, "(no reply: "); n != 3 {
		t.Errorf("%d why-silent lines, want 3:\n%s", n, out)
	}
}

// TestChatSave: /save refuses to overwrite a file and names that are not case files; /save!
// overwrites; the slash commands are listed by /help.
func TestChatSave(t *testing.T) {
	dir := t.TempDir()
	saved := filepath.Join(dir, "hi.test.yaml")
	if err := os.WriteFile(saved, []byte("keep me\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := chatScript(t, []string{"--bundle", "../.."},
		"/save "+saved, // nothing to save yet
		"hi",
		"/save "+saved,
		"/save "+filepath.Join(dir, "hi.yaml"),
		"/save",
		"/help",
	)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	contains(t, out,
		"(not saved: nothing has happened yet)",
		"(not saved: "+saved+" exists; /save! "+saved+" overwrites it)",
		"(not saved: a case file's name ends in .test.yaml, so that flowctl test finds it)",
		"usage: /save FILE.test.yaml",
		"  /save FILE ", "  /save! FILE ", "  /advance DURATION ", "  /start FLOW [NODE] ", "  /state ", "  /help ", "  /quit ",
	)
	if data, _ := os.ReadFile(saved); string(data) != "keep me\n" {
		t.Errorf("/save replaced an existing file:\n%s", data)
	}
	code, out, _ = chatScript(t, []string{"--bundle", "../.."}, "hi", "/save! "+saved)
	if code != 0 || !strings.Contains(out, "(saved 1 step(s) and 0 mock(s) to "+saved+"; replay it with: flowctl test --bundle ../.. "+saved+")") {
		t.Errorf("/save!: exit %d\n%s", code, out)
	}
	if code, out, errOut := flowctl(t, "test", "--bundle", "../..", saved); code != 0 {
		t.Errorf("overwritten case: exit %d\n%s%s", code, out, errOut)
	}
}

// TestChatNoteDimmed: on a terminal the chat's own lines are dimmed; in a pipe or a file they
// are plain text.
func TestChatNoteDimmed(t *testing.T) {
	for _, dim := range []bool{true, false} {
		var b bytes.Buffer
		c := &chatter{out: &b, dim: dim}
		c.note("no reply: %s", "opted out")
		want := "(no reply: opted out)\n"
		if dim {
			want = "\x1b[2m(no reply: opted out)\x1b[0m\n"
		}
		if b.String() != want {
			t.Errorf("dim %v: %q, want %q", dim, b.String(), want)
		}
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) || isTerminal(&bytes.Buffer{}) {
		t.Error("a file or a buffer is taken for a terminal")
	}
}
