package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/flowtest"
	"github.com/flowgate/flowgate/internal/bundle"
	"github.com/flowgate/flowgate/internal/redistest"
	"github.com/flowgate/flowgate/providers"
)

// The dev console's tests run gtc serve --sandbox, as make run does, on a copy of the
// example flows, and talk to it over HTTP as the page does (and, in console_browser_test.go,
// through the page in a real browser).

// sandboxFlows copies the example flows (with templates.yaml) into a directory of their own,
// so that a test can edit them.
func sandboxFlows(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(filepath.Join(dir, "flows"), os.DirFS("../../flows")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// consoleStream reads the console's server-sent events.
type consoleStream struct {
	t      *testing.T
	events chan sse
}

type sse struct{ name, data string }

func openStream(t *testing.T, url string) *consoleStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("GET %s: %d %s, want 200 text/event-stream", url, resp.StatusCode, ct)
	}
	s := &consoleStream{t: t, events: make(chan sse, 256)}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	go func() {
		defer close(s.events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var ev sse
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = strings.TrimPrefix(line, "data: ")
			case line == "" && ev.name != "":
				s.events <- ev
				ev = sse{}
			}
		}
	}()
	return s
}

// next waits for an event named name whose data satisfies ok.
func (s *consoleStream) next(name string, ok func(data string) bool) string {
	s.t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case ev, open := <-s.events:
			if !open {
				s.t.Fatalf("event stream ended waiting for a %s event", name)
			}
			if ev.name == name && ok(ev.data) {
				return ev.data
			}
		case <-deadline:
			s.t.Fatalf("no matching %s event within 20s", name)
		}
	}
}

func postJSON(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// replay runs a saved case against the flows in dir, as flowctl test --bundle dir does.
func replay(t *testing.T, dir, file string) {
	t.Helper()
	c, err := flowtest.LoadCase(file)
	if err != nil {
		t.Fatalf("the saved case does not load: %v", err)
	}
	reg := providers.Registry()
	eng, _, ds := bundle.LoadFlows(reg.Limits(), filepath.Join(dir, "flows"))
	if ds.HasErrors() {
		t.Fatal(ds.Err())
	}
	res := flowtest.Run(context.Background(), c, flowtest.Options{Engine: eng, Channels: reg})
	if !res.Passed() {
		var b strings.Builder
		flowtest.Print(&b, []*flowtest.Result{res}, true)
		data, _ := os.ReadFile(file)
		t.Fatalf("the saved case fails when replayed:\n%s\ncase:\n%s", b.String(), data)
	}
}

func TestSandboxConsoleAPI(t *testing.T) {
	dir := sandboxFlows(t)
	p := startServe(t, dir, "", "fg:", "--sandbox")
	base := "http://" + p.addr + "/dev/"
	waitFor(t, 10*time.Second, "gtc serve --sandbox to print the console's URL", func() bool {
		return strings.Contains(p.out.String(), "Flowgate dev console: http://localhost:")
	})
	stream := openStream(t, base+"events")
	stream.next("bundle", func(d string) bool { return strings.Contains(d, `"order_shipped"`) })
	const ann = "16505551234"

	if code, body := postJSON(t, base+"api/send", `{"user":"`+ann+`","text":"hi"}`); code != 204 {
		t.Fatalf("send hi: %d %s", code, body)
	}
	stream.next("conversation", func(d string) bool {
		return strings.Contains(d, `"type":"interactive"`) && strings.Contains(d, `"title":"Get Help"`)
	})
	postJSON(t, base+"api/send", `{"user":"`+ann+`","button":{"ID":"help","Title":"Get Help"}}`)
	stream.next("conversation", func(d string) bool { return strings.Contains(d, "Here's how I can help") })

	// 25 hours on this conversation's clock close its window: the shipping notice falls back
	// to its template, with the start's parameters.
	if code, body := postJSON(t, base+"api/advance", `{"user":"`+ann+`","by":"25h"}`); code != 204 {
		t.Fatalf("advance: %d %s", code, body)
	}
	postJSON(t, base+"api/start", `{"user":"`+ann+`","flow":"order_shipped","vars":{"customer_name":"Ann","order_id":"1042"}}`)
	data := stream.next("conversation", func(d string) bool { return strings.Contains(d, `"name":"order_shipped"`) })
	var view struct {
		Offset string
		Window struct{ Open bool }
	}
	json.Unmarshal([]byte(data), &view)
	if view.Offset != "+25h" || view.Window.Open {
		t.Errorf("after advancing 25h: offset %q, window open %v; want +25h and closed", view.Offset, view.Window.Open)
	}
	for _, want := range []string{`"text":"Ann"`, `"text":"1042"`, `"kind":"fallback"`} {
		if !strings.Contains(data, want) {
			t.Errorf("the fallback template's view lacks %s:\n%s", want, data)
		}
	}

	// Another contact's clock did not move: its window state is its own.
	const bob = "16505550123"
	postJSON(t, base+"api/send", `{"user":"`+bob+`","text":"photo"}`)
	bobView := stream.next("conversation", func(d string) bool {
		return strings.Contains(d, `"user":"`+bob+`"`) && strings.Contains(d, `"type":"image"`)
	})
	if !strings.Contains(bobView, `"open":true`) || strings.Contains(bobView, `"offset":"+`) {
		t.Errorf("Bob's conversation should have an open window and its own clock:\n%s", bobView)
	}

	// Nothing matched: the entry says why nothing was sent.
	postJSON(t, base+"api/send", `{"user":"`+bob+`","text":"what is this"}`)
	stream.next("conversation", func(d string) bool { return strings.Contains(d, `"quiet":"no trigger matched \"what is this\""`) })

	// Save as test: the case replays green against the same flows.
	resp, err := http.Get(base + "api/case?user=" + ann)
	if err != nil {
		t.Fatal(err)
	}
	saved, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if cd := resp.Header.Get("Content-Disposition"); !strings.Contains(cd, "attachment") || !strings.Contains(cd, ".test.yaml") {
		t.Errorf("save as test: Content-Disposition %q, want an attachment named *.test.yaml", cd)
	}
	if !strings.Contains(string(saved), "advance: 25h") {
		t.Errorf("the saved case lacks the clock move:\n%s", saved)
	}
	file := filepath.Join(t.TempDir(), "console.test.yaml")
	os.WriteFile(file, saved, 0o644)
	replay(t, dir, file)

	// Bad input is refused with the reason.
	for _, c := range []struct{ path, body, want string }{
		{"api/advance", `{"user":"` + ann + `","by":"-1h"}`, "positive duration"},
		{"api/send", `{"user":"` + ann + `"}`, "give text"},
		{"api/send", `{"user":"999999","text":"hi"}`, "add it first"},
		{"api/contacts", `{"user":"+1 555","name":"x"}`, "phone number"},
		{"api/start", `{"user":"` + ann + `","flow":"nope"}`, "nope"},
	} {
		if code, body := postJSON(t, base+c.path, c.body); code < 400 || !strings.Contains(body, c.want) {
			t.Errorf("POST %s %s: %d %s; want an error saying %q", c.path, c.body, code, body, c.want)
		}
	}

	// A flow saved with a mistake is reported in the page with its position; the flows that
	// ran keep running. Fixing it clears the report.
	broken := filepath.Join(dir, "flows", "broken.yaml")
	os.WriteFile(broken, []byte("name: broken\nnodes:\n  - id: a\n    type: reply\n    config: {message: hi}\n    next: nowhere\n"), 0o644)
	problem := stream.next("bundle", func(d string) bool { return strings.Contains(d, "broken.yaml:") })
	if !strings.Contains(problem, "broken.yaml:6:") {
		t.Errorf("the reload error lacks file:line:col: %s", problem)
	}
	os.Remove(broken)
	stream.next("bundle", func(d string) bool { return strings.Contains(d, `"problem":""`) })

	// The console's messages take the real webhook route: that route still refuses a body
	// that is not signed with the sandbox's secret.
	code, _ := postJSON(t, "http://"+p.addr+"/webhook/whatsapp", `{"object":"whatsapp_business_account","entry":[]}`)
	if code != http.StatusUnauthorized {
		t.Errorf("unsigned webhook in the sandbox: %d, want 401", code)
	}
}

func TestConsoleOnlyWhenAsked(t *testing.T) {
	url := redistest.URL(t)
	_, prefix := redistest.Client(t)
	graph := newFakeGraph(t)
	dir := newBundle(t, graph.srv.URL, nil)
	for _, c := range []struct {
		name  string
		extra []string
		want  int
	}{
		{"production", nil, http.StatusNotFound},
		{"--dev-console", []string{"--dev-console"}, http.StatusOK},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := startServe(t, dir, url, prefix, c.extra...)
			for _, path := range []string{"/dev/", "/dev/api/conversations"} {
				resp, err := http.Get("http://" + p.addr + path)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != c.want {
					t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, c.want)
				}
			}
			if c.extra != nil && !strings.Contains(p.out.String(), "never expose it") {
				t.Errorf("--dev-console outside the sandbox is not warned about:\n%s", p.out.String())
			}
		})
	}
}

var consolePNG = flag.String("console-png", "", "also write the console's screenshot to this `file` (docs/console.png)")

// TestDefaultBundleDirIsNoPackage: gtc setup's and gtc serve's default directory, ./bundle,
// is where an operator's credentials go; run from the repository root (as the README says),
// it must be no package of this module and must be ignored by git.
func TestDefaultBundleDirIsNoPackage(t *testing.T) {
	if gos, _ := filepath.Glob("../../bundle/*.go"); len(gos) > 0 {
		t.Errorf("./bundle at the repository root holds Go files %v: gtc setup would write credentials into a package", gos)
	}
	ignore, err := os.ReadFile("../../.gitignore")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains("\n"+string(ignore), "\n/bundle/\n") {
		t.Errorf(".gitignore does not ignore /bundle/, where gtc setup writes credential files")
	}
}
