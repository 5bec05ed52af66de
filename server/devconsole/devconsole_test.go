package devconsole

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/engine"
	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/flowtest"
	"github.com/flowgate/flowgate/pipeline"
	"github.com/flowgate/flowgate/providers/channel"
	"github.com/flowgate/flowgate/providers/whatsapp"
	"github.com/flowgate/flowgate/store"
)

// TestGraphKeepsMessagesPerConversation: the sandbox's fake Graph API answers a WhatsApp
// sender as Meta does and keeps every request body for its recipient.
func TestGraphKeepsMessagesPerConversation(t *testing.T) {
	g := NewGraph(whatsapp.Provider{})
	sender := whatsapp.Provider{}.NewSender(channel.Account{ID: "100000000000001", Token: "t", BaseURL: "https://graph.sandbox.invalid"},
		channel.SendOptions{HTTPClient: &http.Client{Transport: g}})
	ctx := context.Background()
	for _, m := range []msg.Message{
		{To: "16505551234", Text: &msg.Text{Body: "one"}},
		{To: "16505550123", Text: &msg.Text{Body: "other"}},
		{To: "16505551234", Location: &msg.Location{Latitude: 1, Longitude: 2, Name: "here"}},
	} {
		ids, err := sender.Send(ctx, &m)
		if err != nil || len(ids) != 1 || g.Body(ids[0]) == nil {
			t.Fatalf("send %+v: ids %v, err %v", m, ids, err)
		}
	}
	got := g.Messages("+16505551234")
	if len(got) != 2 || !strings.Contains(string(got[0]), `"body":"one"`) || !strings.Contains(string(got[1]), `"type":"location"`) {
		t.Fatalf("kept for 16505551234: %s", got)
	}
	if n := len(g.Messages("16505550123")); n != 1 {
		t.Fatalf("kept %d for the other user, want 1", n)
	}

	// Anything but a message post is answered with success and not kept.
	req, _ := http.NewRequest(http.MethodGet, "https://graph.sandbox.invalid/v21.0/100000000000001", nil)
	resp, err := g.RoundTrip(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET: %v %v", resp, err)
	}
	b, _ := io.ReadAll(resp.Body)
	if !json.Valid(b) {
		t.Fatalf("GET answered %q", b)
	}
}

// TestTestCaseSteps: the saved case has a step per message, start and clock move, exact
// expectations, and pauses of a minute or more (with what timers sent in them) as advance
// steps.
func TestTestCaseSteps(t *testing.T) {
	t0 := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	text := func(s string) out { return out{m: msg.Message{Text: &msg.Text{Body: s}}} }
	cv := &conversation{user: "16505551234", name: "Ann", entries: []*entry{
		{kind: kindSend, at: t0, send: &flowtest.SendStep{Text: "join", Name: "Ann"}, outs: []out{text("What's your name?")}},
		{kind: kindSend, at: t0.Add(20 * time.Second), send: &flowtest.SendStep{Text: "Ann"}, outs: []out{text("Thanks")}},
		{kind: kindTimer, at: t0.Add(5 * time.Minute), outs: []out{text("Still there?")}},
		{kind: kindSend, at: t0.Add(6 * time.Minute), send: &flowtest.SendStep{Button: "yes"}},
		{kind: kindAdvance, at: t0.Add(6 * time.Minute), advance: 25 * time.Hour},
		{kind: kindStart, at: t0.Add(25*time.Hour + 6*time.Minute), flow: "check_window",
			outs: []out{{m: msg.Message{Template: &msg.Template{Name: "follow_up", Language: "en"}}}, {Error: "refused"}}},
	}}
	data, err := cv.testCase()
	if err != nil {
		t.Fatal(err)
	}
	want := `# Saved from the dev console (/dev/). Replay it with flowctl test.
name: console conversation with Ann (16505551234)
channel: whatsapp
contact: "16505551234"
clock: "2026-01-05T09:00:00Z"
steps:
  - send: {text: join, name: Ann}
    expect:
      - text: What's your name?
  - send: {text: Ann}
    expect:
      - text: Thanks
  - advance: 6m
    expect:
      - text: Still there?
  - send: {button: "yes"}
    expect: []
  - advance: 25h
    expect: []
  - start: {flow: check_window}
    expect:
      - template: {name: follow_up, language: en}
`
	if string(data) != want {
		t.Errorf("saved case:\n%s\nwant:\n%s", data, want)
	}
}

// TestStreamsEndAtShutdown: a page left open does not hold up the server's shutdown: the
// console's event streams end when the server shuts down (Close registered with
// RegisterOnShutdown, as gtc serve does).
func TestStreamsEndAtShutdown(t *testing.T) {
	c := New(Options{Pipeline: pipeline.New(nil, &pipeline.Bundle{})})
	srv := httptest.NewUnstartedServer(c)
	srv.Config.RegisterOnShutdown(c.Close)
	srv.Start()
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/dev/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "event: bundle\n" {
		t.Fatalf("first line of the stream %q, %v", line, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Config.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with a page open: %v", err)
	}
}

// TestClockMovesOnlyInTheSandbox: outside the sandbox (--dev-console) the conversations are
// real ones in a shared store, served by other processes too and kept past a restart, which
// know nothing of the page's clock moves: the console refuses to move a clock there.
func TestClockMovesOnlyInTheSandbox(t *testing.T) {
	st, closeStore, err := store.NewEmbedded(store.EmbeddedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeStore() })
	eng, ds := engine.New(engine.Config{Settings: engine.DefaultSettings()})
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	ch := &pipeline.Channel{Name: Channel, Tenant: "acme", Team: "support", Account: "1"}
	const ann = "16505551234"
	for _, sandbox := range []bool{false, true} {
		c := New(Options{Pipeline: pipeline.New(st, &pipeline.Bundle{Engine: eng, Channels: []*pipeline.Channel{ch}}),
			Contacts: []Contact{{User: ann}}, Sandbox: sandbox})
		srv := httptest.NewServer(c)
		resp, err := http.Post(srv.URL+"/dev/api/advance", "application/json", strings.NewReader(`{"user":"`+ann+`","by":"25h"}`))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		srv.Close()
		moved := c.Offset(engine.Conversation{Channel: Channel, User: ann}) == 25*time.Hour
		if sandbox && (resp.StatusCode != http.StatusNoContent || !moved) {
			t.Errorf("sandbox: advance answered %d %s, clock moved %v", resp.StatusCode, body, moved)
		}
		if !sandbox && (resp.StatusCode != http.StatusConflict || moved || !strings.Contains(string(body), "sandbox")) {
			t.Errorf("outside the sandbox: advance answered %d %s, clock moved %v; want 409 saying why", resp.StatusCode, body, moved)
		}
	}
}
