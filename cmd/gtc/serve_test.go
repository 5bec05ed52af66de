package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/internal/redistest"
	"github.com/flowgate/flowgate/loadtest"
)

func texts(ms []graphMsg) []string {
	var out []string
	for _, m := range ms {
		switch {
		case m.Template != "":
			out = append(out, "template "+m.Template)
		case m.Type == "interactive":
			out = append(out, "buttons "+strings.Join(m.Buttons, ","))
		default:
			out = append(out, m.Text)
		}
	}
	return out
}

// TestServeWebhooks drives one gtc serve on Redis through what Meta sends it: the handshake,
// signed and unsigned webhooks, redeliveries, a stale message, a window refusal, a handoff and
// the admin API.
func TestServeWebhooks(t *testing.T) {
	url := redistest.URL(t)
	_, prefix := redistest.Client(t)
	g := newFakeGraph(t)
	dir := newBundle(t, g.srv.URL, nil)
	rec := t.TempDir()
	p := startServe(t, dir, url, prefix, "--record", rec)

	t.Run("handshake", func(t *testing.T) {
		for _, c := range []struct {
			query string
			code  int
			body  string
		}{
			{"hub.mode=subscribe&hub.verify_token=" + e2eVerify + "&hub.challenge=1158201444", 200, "1158201444"},
			{"hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1", 403, ""},
		} {
			resp, err := http.Get("http://" + p.addr + "/webhook/whatsapp/acme/support?" + c.query)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.code || (c.body != "" && string(b) != c.body) {
				t.Errorf("%s: %d %q, want %d %q", c.query, resp.StatusCode, b, c.code, c.body)
			}
		}
	})

	t.Run("button flow answered end to end", func(t *testing.T) {
		mustPost(t, p.addr, webhook(t, msg.Event{ID: "wamid.e2e.1", From: "15550000001", Text: "hi"}))
		waitFor(t, 10*time.Second, "the menu", func() bool { return len(g.to("15550000001")) == 1 })
		mustPost(t, p.addr, webhook(t, msg.Event{Kind: msg.KindButton, ID: "wamid.e2e.2", From: "15550000001", Button: &msg.Reply{ID: "help", Title: "Get Help"}}))
		waitFor(t, 10*time.Second, "the help text", func() bool { return len(g.to("15550000001")) == 2 })
		got := texts(g.to("15550000001"))
		if got[0] != "buttons help,status,human" || !strings.HasPrefix(got[1], "Here's how I can help") {
			t.Errorf("replies %q", got)
		}
	})

	t.Run("bad signature refused and nothing processed", func(t *testing.T) {
		body := webhook(t, msg.Event{ID: "wamid.e2e.bad", From: "15550000002", Text: "hi"})
		for _, secret := range []string{"", "not-the-secret"} {
			if code, err := post(p.addr, body, secret); err != nil || code != 401 {
				t.Errorf("secret %q: %d, %v; want 401", secret, code, err)
			}
		}
		// A good webhook from someone else, posted after, is answered: the bad one would
		// have been answered by then.
		mustPost(t, p.addr, webhook(t, msg.Event{ID: "wamid.e2e.after", From: "15550000003", Text: "hi"}))
		waitFor(t, 10*time.Second, "the later reply", func() bool { return len(g.to("15550000003")) == 1 })
		time.Sleep(200 * time.Millisecond)
		if got := g.to("15550000002"); len(got) != 0 {
			t.Errorf("unsigned webhook answered: %q", texts(got))
		}
	})

	t.Run("redelivered in sequence and at once: one reply", func(t *testing.T) {
		body := webhook(t, msg.Event{ID: "wamid.e2e.dup", From: "15550000004", Text: "hi"})
		mustPost(t, p.addr, body)
		mustPost(t, p.addr, body)
		var wg sync.WaitGroup
		body2 := webhook(t, msg.Event{ID: "wamid.e2e.dup2", From: "15550000004", Text: "menu"})
		for range 10 {
			wg.Add(1)
			go func() { defer wg.Done(); mustPost(t, p.addr, body2) }()
		}
		wg.Wait()
		waitFor(t, 10*time.Second, "two replies", func() bool { return len(g.to("15550000004")) >= 2 })
		time.Sleep(300 * time.Millisecond)
		if got := g.to("15550000004"); len(got) != 2 {
			t.Errorf("%d replies to two distinct messages each delivered many times: %q", len(got), texts(got))
		}
	})

	t.Run("a message 25 hours old gets the fallback template", func(t *testing.T) {
		mustPost(t, p.addr, webhook(t, msg.Event{ID: "wamid.e2e.old", From: "15550000005", Text: "status-window", Time: time.Now().Add(-25 * time.Hour)}))
		waitFor(t, 10*time.Second, "the template", func() bool { return len(g.to("15550000005")) == 1 })
		if got := texts(g.to("15550000005")); got[0] != "template follow_up" {
			t.Errorf("replies %q", got)
		}
	})

	t.Run("Meta refuses with 131047: fallback template", func(t *testing.T) {
		g.setHook(func(m graphMsg) (int, string, <-chan struct{}) {
			if strings.TrimPrefix(m.To, "+") == "15550000006" && m.Type == "text" {
				return 400, `{"error":{"message":"(#131047) Re-engagement message","type":"OAuthException","code":131047,"error_data":{"messaging_product":"whatsapp","details":"Message failed to send because more than 24 hours have passed since the customer last replied to this number."},"fbtrace_id":"AbC"}}`, nil
			}
			return 0, "", nil
		})
		defer g.setHook(nil)
		mustPost(t, p.addr, webhook(t, msg.Event{ID: "wamid.e2e.refused", From: "15550000006", Text: "status-window"}))
		waitFor(t, 10*time.Second, "the template", func() bool { return len(g.to("15550000006")) == 1 })
		if got := texts(g.to("15550000006")); got[0] != "template follow_up" {
			t.Errorf("replies %q", got)
		}
	})

	t.Run("handoff: kept, listed, answered by an agent, released", func(t *testing.T) {
		u := "15550000007"
		mustPost(t, p.addr, webhook(t, msg.Event{ID: "wamid.e2e.h1", From: u, Text: "hi"}))
		mustPost(t, p.addr, webhook(t, msg.Event{Kind: msg.KindButton, ID: "wamid.e2e.h2", From: u, Button: &msg.Reply{ID: "human", Title: "Talk to Human"}}))
		mustPost(t, p.addr, webhook(t, msg.Event{ID: "wamid.e2e.h3", From: u, Text: "my parcel is late"}))
		waitFor(t, 10*time.Second, "the handoff message", func() bool { return len(g.to(u)) == 2 })
		var kept []any
		waitFor(t, 10*time.Second, "the kept message", func() bool {
			code, out := api(t, p.addr, "GET", "/api/v1/acme/support/handoffs", "")
			if code != 200 {
				t.Fatalf("handoffs: %d %v", code, out)
			}
			hs, _ := out["handoffs"].([]any)
			for _, h := range hs {
				if h := h.(map[string]any); h["user"] == u {
					kept, _ = h["kept"].([]any)
				}
			}
			return len(kept) == 1
		})
		if k := kept[0].(map[string]any); k["text"] != "my parcel is late" {
			t.Errorf("kept %v", kept)
		}
		code, out := api(t, p.addr, "POST", "/api/v1/acme/support/whatsapp/conversations/"+u+"/reply", `{"text": "Hi, Sam from support here."}`)
		if code != 200 {
			t.Fatalf("reply: %d %v", code, out)
		}
		if code, out := api(t, p.addr, "POST", "/api/v1/acme/support/whatsapp/conversations/"+u+"/release", ``); code != 200 {
			t.Fatalf("release: %d %v", code, out)
		}
		mustPost(t, p.addr, webhook(t, msg.Event{ID: "wamid.e2e.h4", From: u, Text: "menu"}))
		waitFor(t, 10*time.Second, "the bot again", func() bool { return len(g.to(u)) == 4 })
		got := texts(g.to(u))
		if got[2] != "Hi, Sam from support here." || got[3] != "buttons help,status,human" {
			t.Errorf("replies %q", got)
		}
		if code, _ := api(t, p.addr, "GET", "/api/v1/acme/support/whatsapp/conversations/"+u, ""); code != 200 {
			t.Errorf("state: %d", code)
		}
	})

	t.Run("metrics and recorded webhooks", func(t *testing.T) {
		resp, err := http.Get("http://" + p.addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{`flowgate_webhooks_total{channel="whatsapp",result="ok"}`, `flowgate_webhooks_total{channel="whatsapp",result="bad_signature"} 2`, "flowgate_window_fallbacks_total"} {
			if !strings.Contains(string(b), want) {
				t.Errorf("metrics lack %s", want)
			}
		}
		files, _ := filepath.Glob(filepath.Join(rec, "whatsapp", "*.json"))
		if len(files) < 5 {
			t.Errorf("%d recorded webhooks in %s", len(files), rec)
		}
	})

	t.Run("reload on SIGHUP, and a broken flow keeps the old bundle", func(t *testing.T) {
		path := filepath.Join(dir, "flows", "echo.yaml")
		if err := os.WriteFile(path, []byte(loadtest.EchoFlow), 0o644); err != nil {
			t.Fatal(err)
		}
		p.cmd.Process.Signal(syscall.SIGHUP)
		waitFor(t, 10*time.Second, "the reload", func() bool { return strings.Contains(p.out.String(), "bundle reloaded") })
		mustPost(t, p.addr, webhook(t, msg.Event{ID: "wamid.e2e.echo", From: "15550000008", Text: "seq 1"}))
		waitFor(t, 10*time.Second, "the echo", func() bool { return len(g.to("15550000008")) == 1 })
		if err := os.WriteFile(path, []byte("name: echo\nnodes: [{id: x, type: nope}]\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "the failed reload", func() bool { return strings.Contains(p.out.String(), "bundle reload failed") })
		mustPost(t, p.addr, webhook(t, msg.Event{ID: "wamid.e2e.echo2", From: "15550000008", Text: "seq 2"}))
		waitFor(t, 10*time.Second, "the echo from the old bundle", func() bool { return len(g.to("15550000008")) == 2 })
	})

	if code := p.stop(); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
}

// TestServeKilledWorker: a process killed with SIGKILL in the middle of an event, before the
// commit (waiting on an http node) and after it (waiting on the Graph API), leaves the event to
// a second process, and the user gets one answer.
func TestServeKilledWorker(t *testing.T) {
	url := redistest.URL(t)
	_, prefix := redistest.Client(t)
	g := newFakeGraph(t)
	blockHTTP := make(chan struct{})
	var httpCalls sync.WaitGroup
	httpCalls.Add(1)
	var once sync.Once
	backend := newBackend(t, func() {
		once.Do(func() {
			httpCalls.Done()
			<-blockHTTP
		})
	})
	defer close(blockHTTP)
	slow := fmt.Sprintf(`name: slow
nodes:
  - id: look
    type: http
    config: {method: GET, url: %q, save_as: r, on_error: done}
    next: done
  - {id: done, type: reply, config: {message: "looked up"}}
triggers:
  - {type: message, keywords: [slow], target: look}
`, backend+"/lookup")
	dir := newBundle(t, g.srv.URL, map[string]string{"slow.yaml": slow, "echo.yaml": loadtest.EchoFlow})

	t.Run("before the commit", func(t *testing.T) {
		a := startServe(t, dir, url, prefix)
		mustPost(t, a.addr, webhook(t, msg.Event{ID: "wamid.kill.1", From: "15552000001", Text: "slow"}))
		httpCalls.Wait() // the worker waits on the http node: nothing committed yet
		a.kill()
		b := startServe(t, dir, url, prefix)
		waitFor(t, 15*time.Second, "the answer from the second process", func() bool { return len(g.to("15552000001")) == 1 })
		time.Sleep(300 * time.Millisecond)
		if got := texts(g.to("15552000001")); len(got) != 1 || got[0] != "looked up" {
			t.Errorf("replies %q", got)
		}
		b.stop()
	})

	t.Run("after the commit", func(t *testing.T) {
		hold := make(chan struct{})
		arrived := make(chan struct{})
		var first sync.Once
		g.setHook(func(m graphMsg) (int, string, <-chan struct{}) {
			if strings.TrimPrefix(m.To, "+") != "15552000002" {
				return 0, "", nil
			}
			held := false
			first.Do(func() { held = true; close(arrived) })
			if held {
				return 0, "", hold // the first send never gets its answer
			}
			return 0, "", nil
		})
		defer g.setHook(nil)
		defer close(hold)
		a := startServe(t, dir, url, prefix)
		mustPost(t, a.addr, webhook(t, msg.Event{ID: "wamid.kill.2", From: "15552000002", Text: "seq 1"}))
		<-arrived // committed, and the send is in flight
		a.kill()
		b := startServe(t, dir, url, prefix)
		waitFor(t, 15*time.Second, "the resent reply", func() bool { return len(g.to("15552000002")) == 1 })
		mustPost(t, b.addr, webhook(t, msg.Event{ID: "wamid.kill.3", From: "15552000002", Text: "seq 2"}))
		waitFor(t, 15*time.Second, "the next reply", func() bool { return len(g.to("15552000002")) == 2 })
		if got := texts(g.to("15552000002")); strings.Join(got, "|") != "seq 1|seq 2" {
			t.Errorf("replies %q", got)
		}
		b.stop()
	})
}

// TestServeRedisRestart: Redis goes away in the middle of a burst. Webhooks meanwhile get 503,
// Meta-style retries get them in once Redis is back, and every event is answered once, in
// order.
func TestServeRedisRestart(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("redis-server is needed to restart a Redis of the test's own (apt-get install redis-server)")
	}
	port, err := redistest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	rdir := t.TempDir()
	startRedis := func() *exec.Cmd {
		cmd := exec.Command("redis-server", "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes", "--appendfsync", "always", "--dir", rdir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	redis := startRedis()
	url := fmt.Sprintf("redis://127.0.0.1:%d/0", port)
	waitFor(t, 10*time.Second, "redis", func() bool { return dialOK(fmt.Sprintf("127.0.0.1:%d", port)) })
	t.Cleanup(func() { redis.Process.Kill(); redis.Wait() })

	g := newFakeGraph(t)
	dir := newBundle(t, g.srv.URL, map[string]string{"echo.yaml": loadtest.EchoFlow})
	// The lease outlasts the outage: a worker whose replies went out while Redis was away
	// records them when it is back, before anyone could take the conversation over.
	p := startServe(t, dir, url, "fg:", "--lease", "10s")
	const users, per = 10, 20
	var wg sync.WaitGroup
	var mu sync.Mutex
	unavailable := 0
	for u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := fmt.Sprintf("1555300%04d", u)
			for i := range per {
				body := webhook(t, msg.Event{ID: fmt.Sprintf("wamid.rr.%d.%d", u, i), From: user, Text: fmt.Sprintf("seq %d", i)})
				codes, err := postRetrying(p.addr, body, 30*time.Second)
				if err != nil {
					t.Errorf("user %d message %d: %v (codes %v)", u, i, err, codes)
					return
				}
				mu.Lock()
				for _, c := range codes {
					if c == 503 {
						unavailable++
					}
				}
				mu.Unlock()
				time.Sleep(50 * time.Millisecond)
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	redis.Process.Kill() // mid-burst, for longer than the client's own retries last
	redis.Wait()
	time.Sleep(3 * time.Second)
	redis = startRedis()
	wg.Wait()
	checkEchoes(t, g, "1555300%04d", users, per)
	if unavailable == 0 {
		t.Error("no webhook was answered 503 while Redis was down: the restart did not happen mid-burst")
	}
	t.Logf("%d answers of 503 while Redis was down", unavailable)
}

// checkEchoes waits until every user (named by format and a number below users) has per
// echoes, then checks that each got "seq 0" to "seq per-1" exactly once, in order.
func checkEchoes(t *testing.T, g *fakeGraph, format string, users, per int) {
	t.Helper()
	waitFor(t, 60*time.Second, fmt.Sprintf("%d replies", users*per), func() bool {
		n := 0
		for u := range users {
			n += len(g.to(fmt.Sprintf(format, u)))
		}
		return n >= users*per
	})
	time.Sleep(1200 * time.Millisecond) // a resend would come once the 1 s lease expired
	var want []string
	for i := range per {
		want = append(want, fmt.Sprintf("seq %d", i))
	}
	for u := range users {
		if got := texts(g.to(fmt.Sprintf(format, u))); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("user %d: got %q", u, got)
		}
	}
}
