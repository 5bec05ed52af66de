package engine

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/flowgate/flowgate/engine/msg"
)

func TestTriggers(t *testing.T) {
	const flow = `
name: trig
nodes:
  - {id: keyword, type: reply, config: {message: "keyword"}}
  - {id: pattern, type: reply, config: {message: "pattern"}}
  - {id: long, type: reply, config: {message: "long"}}
  - {id: button, type: reply, config: {message: "reply {{ input }}"}}
  - {id: size, type: reply, config: {message: "size {{ list.id }}"}}
  - {id: postback, type: reply, config: {message: "postback"}}
  - {id: location, type: reply, config: {message: "location {{ location.name }}"}}
  - {id: image, type: reply, config: {message: "image {{ media.caption }}"}}
  - {id: referral, type: reply, config: {message: "referral"}}
  - {id: anything, type: reply, config: {message: "anything"}}
triggers:
  - {type: message, keywords: [Hello, "good morning"], target: keyword}
  - {type: message, pattern: '^order \d+$', target: pattern}
  - {type: message, expression: "len(message.text) > 20", target: long}
  - {type: interactive, ids: [yes, no], target: button}
  - {type: interactive, expression: "list.id startsWith 'size_'", target: size}
  - {type: postback, ids: [GET_STARTED], target: postback}
  - {type: location, target: location}
  - {type: media, expression: "media.type == 'image'", target: image}
  - {type: referral, target: referral}
  - {type: any, target: anything}
`
	cases := []struct {
		name string
		ev   *msg.Event
		want string
	}{
		{"keyword ignores case", textEv("HELLO"), "keyword"},
		{"keyword ignores surrounding space", textEv("  good Morning "), "keyword"},
		{"keyword matches the whole message only", textEv("hello there"), "anything"},
		{"pattern", textEv("order 42"), "pattern"},
		{"pattern anchored", textEv("my order 42"), "anything"},
		{"expression", textEv("this message is longer than twenty"), "long"},
		{"button id", buttonReply("yes", "Yes"), "reply yes"},
		{"list row id", listReply("no", "No"), "reply no"},
		{"button id not listed", buttonReply("maybe", "Maybe"), "anything"},
		{"list reply with expression", listReply("size_m", "M"), "size size_m"},
		{"list reply the expression refuses", listReply("color_red", "Red"), "anything"},
		{"postback", postback("GET_STARTED"), "postback"},
		{"postback is not an interactive reply", postback("yes"), "anything"},
		{"location", &msg.Event{Kind: msg.KindLocation, Location: &msg.Location{Latitude: 1, Longitude: 2, Name: "Home"}}, "location Home"},
		{"media", &msg.Event{Kind: msg.KindMedia, Media: &msg.Media{Type: "image", Caption: "cat"}}, "image cat"},
		{"media the expression refuses", &msg.Event{Kind: msg.KindMedia, Media: &msg.Media{Type: "audio"}}, "anything"},
		{"referral alone", &msg.Event{Kind: msg.KindReferral, Referral: &msg.Referral{Ref: "ad-1"}}, "referral"},
		{"referral on a message", &msg.Event{Kind: msg.KindText, Text: "hi", Referral: &msg.Referral{SourceID: "ad-1"}}, "referral"},
		{"any", &msg.Event{Kind: msg.KindReaction, Reaction: &msg.Reaction{MessageID: "out.1", Emoji: "👍"}}, "anything"},
	}
	var rc []runCase
	for _, c := range cases {
		rc = append(rc, runCase{name: c.name, flows: []string{flow}, turns: []turn{{ev: c.ev, sends: []msg.Message{textMsg(c.want)}}}})
	}
	runCases(t, rc)
}

// TestTriggerOrder checks that the highest priority wins across flows, and that ties go by
// file name, then order in the file, whatever order the files are given in.
func TestTriggerOrder(t *testing.T) {
	files := map[string][]byte{
		"b.yaml": []byte(`
name: b
nodes:
  - {id: b_hi, type: reply, config: {message: "b hi"}}
  - {id: b_any, type: reply, config: {message: "b any"}}
  - {id: b_urgent, type: reply, config: {message: "b urgent"}}
triggers:
  - {type: message, keywords: [hi], target: b_hi}
  - {type: any, target: b_any}
  - {type: message, keywords: [urgent], target: b_urgent, priority: 10}
  - {type: message, keywords: [tie], target: b_hi}
`),
		"a.yaml": []byte(`
name: a
nodes:
  - {id: a_hi, type: reply, config: {message: "a hi"}}
  - {id: a_urgent, type: reply, config: {message: "a urgent"}}
  - {id: a_first, type: reply, config: {message: "a first"}}
  - {id: a_second, type: reply, config: {message: "a second"}}
triggers:
  - {type: message, keywords: [hi], target: a_hi, priority: -1}
  - {type: message, keywords: [urgent], target: a_urgent, priority: 5}
  - {type: message, keywords: [both], target: a_first}
  - {type: message, keywords: [both], target: a_second}
  - {type: message, keywords: [tie], target: a_second}
`),
	}
	e, ds := load(t, Config{Settings: DefaultSettings()}, files, []string{"b.yaml", "a.yaml"})
	// The flows overlap on purpose; validation says which trigger loses each keyword.
	want := `a.yaml:10:32: warning: triggers[1]: keyword "urgent" is also taken by flow "b"'s message trigger, which wins (it has a higher priority): this trigger never fires for it
b.yaml:11:32: warning: triggers[3]: keyword "tie" is also taken by flow "a"'s message trigger, which wins (same priority, and a.yaml sorts before b.yaml): this trigger never fires for it
a.yaml:9:32: warning: triggers[0]: keyword "hi" is also taken by flow "b"'s message trigger, which wins (it has a higher priority): this trigger never fires for it
`
	if got := diagLines(ds); got != want {
		t.Fatalf("diagnostics:\n%s\nwant:\n%s", got, want)
	}
	for _, c := range []struct{ in, want string }{
		{"urgent", "b urgent"}, // priority 10 beats 5
		{"hi", "b hi"},         // a_hi has priority -1; b_hi is written before b's any
		{"both", "a first"},    // same file, same priority: the first written
		{"tie", "a second"},    // same priority in two files: a.yaml before b.yaml
		{"other", "b any"},
	} {
		st := State{}
		res := e.Handle(t.Context(), testConv, &st, &msg.Event{Kind: msg.KindText, Text: c.in, From: user, Time: t0}, t0)
		if len(res.Sends) != 1 || res.Sends[0].Message.Text.Body != c.want {
			t.Errorf("%q: sends %v, want %q\n%s", c.in, res.Sends, c.want, traceLines(res))
		}
	}
}

func TestTriggerChannels(t *testing.T) {
	const flow = `
name: fb_only
channels: [messenger]
nodes:
  - {id: hello, type: reply, config: {message: "Hello from Messenger"}}
triggers:
  - {type: any, target: hello}
`
	runCases(t, []runCase{
		{name: "runs on its channel", flows: []string{flow}, channel: msg.Messenger, turns: []turn{
			{ev: textEv("hi"), sends: []msg.Message{textMsg("Hello from Messenger")}},
		}},
		{name: "not on others", flows: []string{flow}, turns: []turn{
			{ev: textEv("hi"), trace: []TraceKind{TraceIgnored}},
		}},
	})
}

// anyFlow answers every event that no other flow's trigger takes.
const anyFlow = `
name: any
nodes:
  - {id: hello, type: reply, config: {message: "Hello"}}
triggers:
  - {type: any, target: hello}
`

const routeFlow = `
name: route
nodes:
  - {id: hello, type: reply, config: {message: "Hello"}}
  - {id: human, type: handoff, config: {queue: support}}
  - {id: ask, type: input, config: {save_as: answer}, next: got}
  - {id: got, type: reply, config: {message: "Got {{answer}}"}}
triggers:
  - {type: message, keywords: [hi], target: hello}
  - {type: message, keywords: [agent], target: human}
  - {type: message, keywords: [ask], target: ask}
`

func TestStatusRouting(t *testing.T) {
	outbox := func(want ...string) func(*testing.T, *State, *Result) {
		return func(t *testing.T, st *State, _ *Result) {
			var got []string
			for _, o := range st.Outbox {
				got = append(got, o.ID+" "+o.Status)
			}
			if !slices.Equal(got, want) {
				t.Errorf("outbox = %v, want %v", got, want)
			}
		}
	}
	runCases(t, []runCase{{
		name: "statuses only move forward and run no flow", flows: []string{routeFlow, anyFlow},
		turns: []turn{
			{ev: textEv("hi"), sends: []msg.Message{textMsg("Hello")}, check: outbox()},
			{ev: status("out.1", msg.StatusDelivered), trace: []TraceKind{TraceStatus}, check: outbox("out.1 delivered")},
			{ev: status("out.1", msg.StatusRead), check: outbox("out.1 read")},
			{ev: status("out.1", msg.StatusDelivered), check: outbox("out.1 read")},
			{ev: status("out.1", msg.StatusSent), check: outbox("out.1 read")},
			{ev: status("wamid.unknown", msg.StatusRead), trace: []TraceKind{TraceStatus}, check: outbox("out.1 read")},
			{ev: &msg.Event{Kind: msg.KindTemplate, TemplateStatus: &msg.TemplateStatus{Event: "APPROVED"}}, trace: []TraceKind{TraceIgnored}},
		},
	}, {
		// Messenger reports reads and deliveries as watermarks: everything sent before.
		name: "watermarks move every recorded message", flows: []string{routeFlow},
		turns: []turn{
			{ev: textEv("hi"), sends: []msg.Message{textMsg("Hello")}},
			{ev: textEv("hi"), sends: []msg.Message{textMsg("Hello")}},
			{ev: status("out.1", msg.StatusRead), check: outbox("out.1 read", "out.2 sent")},
			{ev: watermark(msg.StatusDelivered), trace: []TraceKind{TraceStatus}, check: outbox("out.1 read", "out.2 delivered")},
			{ev: watermark(msg.StatusRead), check: outbox("out.1 read", "out.2 read")},
		},
	}, {
		name: "an unsent message runs no flow", flows: []string{routeFlow},
		turns: []turn{
			{ev: &msg.Event{Kind: msg.KindDeleted, ID: "m.1"}, trace: []TraceKind{TraceIgnored}},
		},
	}})
}

// watermark is a receipt for everything sent before now, as Messenger gives it.
func watermark(state string) *msg.Event {
	return &msg.Event{Kind: msg.KindStatus, Status: &msg.Status{State: state, Watermark: t0}}
}

func TestOptOut(t *testing.T) {
	confirm := textMsg(DefaultSettings().OptOutConfirmation)
	optedOut := func(want bool) func(*testing.T, *State, *Result) {
		return func(t *testing.T, st *State, _ *Result) {
			if st.OptedOut != want {
				t.Errorf("opted out = %v, want %v", st.OptedOut, want)
			}
		}
	}
	runCases(t, []runCase{
		{name: "stop, then start", flows: []string{routeFlow}, turns: []turn{
			{ev: textEv("stop"), sends: []msg.Message{confirm}, trace: []TraceKind{TraceOptOut, TraceSend}, check: optedOut(true)},
			{ev: textEv("STOP"), check: optedOut(true)}, // the confirmation goes out once
			{ev: textEv("hi"), trace: []TraceKind{TraceSuppressed}},
			{start: "route/hello", trace: []TraceKind{TraceSuppressed}},
			{ev: textEv(" Start "), trace: []TraceKind{TraceOptIn, TraceIgnored}, check: optedOut(false)},
			{ev: textEv("hi"), sends: []msg.Message{textMsg("Hello")}},
		}},
		{name: "stop leaves a wait", flows: []string{routeFlow}, turns: []turn{
			{ev: textEv("ask"), wait: "route/ask"},
			{ev: textEv("unsubscribe"), sends: []msg.Message{confirm}},
			{ev: textEv("subscribe"), trace: []TraceKind{TraceOptIn, TraceIgnored}},
		}},
		{name: "opt-in keyword is plain text when not opted out", flows: []string{routeFlow}, turns: []turn{
			{ev: textEv("ask"), wait: "route/ask"},
			{ev: textEv("start"), sends: []msg.Message{textMsg("Got start")}},
		}},
		{name: "no fallback template either", flows: []string{windowFlows["node fallback"]}, state: State{OptedOut: true, Vars: map[string]any{"order_id": "A-1"}}, turns: []turn{
			{start: "notify", trace: []TraceKind{TraceSuppressed}},
		}},
	})
}

func TestRoutingOrder(t *testing.T) {
	const fallback = `
name: fallback
start: sorry
nodes:
  - {id: sorry, type: reply, config: {message: "Sorry?"}}
`
	withDefault := func(c *Config) { c.Settings.DefaultFlow = "fallback" }
	runCases(t, []runCase{
		{name: "handoff keeps events before waits and triggers", flows: []string{routeFlow}, turns: []turn{
			{ev: textEv("agent"), trace: []TraceKind{TraceHandoff}},
			{ev: textEv("hi"), kept: true},
			{ev: textEv("stop"), sends: []msg.Message{textMsg(DefaultSettings().OptOutConfirmation)}}, // opt-out comes first
		}},
		{name: "default flow", flows: []string{routeFlow, fallback}, config: withDefault, turns: []turn{
			{ev: textEv("what?"), sends: []msg.Message{textMsg("Sorry?")}, from: []string{"fallback/sorry"}},
			{ev: textEv("hi"), sends: []msg.Message{textMsg("Hello")}},
			{ev: textEv("ask"), wait: "route/ask"},
			{ev: textEv("what?"), sends: []msg.Message{textMsg("Got what?")}}, // a wait comes before the default flow
		}},
		{name: "nothing matched", flows: []string{routeFlow}, turns: []turn{
			{ev: textEv("what?"), trace: []TraceKind{TraceIgnored}},
		}},
	})
}

// windowFlows send a text from node tell, with each kind of fallback.
var windowFlows = map[string]string{
	"node fallback": `
name: notify
vars: {customer: "", order_id: ""} # given by the start
start: tell
window_fallback: {name: reopen, language: en}
nodes:
  - id: tell
    type: reply
    config:
      message: "Order {{order_id}} shipped"
      fallback_template:
        name: order_update
        language: en
        components: [{type: body, parameters: [{type: text, text: "{{customer}}"}, {type: text, text: "{{order_id}}"}]}]
triggers:
  - {type: message, keywords: [order], target: tell}
`,
	"flow fallback": `
name: notify
vars: {order_id: ""} # given by the start
start: tell
window_fallback: {name: reopen, language: en}
nodes:
  - {id: tell, type: reply, config: {message: "Order {{order_id}} shipped"}}
`,
	"no fallback": `
name: notify
vars: {order_id: ""} # given by the start
start: tell
nodes:
  - id: tell
    type: reply
    config: {message: "Order {{order_id}} shipped", on_window_closed: reopen}
    next: after
  - {id: after, type: set, config: {vars: {after: "true"}}}
  - {id: reopen, type: template, config: {name: reopen, language: en}}
`,
	"no fallback, no on_window_closed": `
name: notify
vars: {order_id: ""} # given by the start
start: tell
nodes:
  - {id: tell, type: reply, config: {message: "Order {{order_id}} shipped"}, next: after}
  - {id: after, type: set, config: {vars: {after: "true"}}}
`,
}

func TestWindow(t *testing.T) {
	text := textMsg("Order A-1 shipped")
	nodeFB := tmplMsg("order_update", "en", "Ann", "A-1")
	flowFB := tmplMsg("reopen", "en")
	bundleFB := tmplMsg("reopen_named", "en", "Ann")
	bundle := func(c *Config) {
		c.Settings.FallbackTemplate = &TemplateConfig{Name: "reopen_named", Language: "en",
			Components: []ComponentConfig{{Type: "body", Parameters: []ParameterConfig{{Type: "text", Text: "{{customer}}"}}}}}
	}
	margin := func(c *Config) { c.Settings.WindowMargin = time.Hour }
	wrote := func(ago time.Duration) State {
		return State{LastMessageTime: t0.Add(-ago).Unix(), Vars: map[string]any{"order_id": "A-1", "customer": "Ann"}}
	}
	start := func(flow, config string, cfg func(*Config), st State, sends ...msg.Message) runCase {
		return runCase{name: config, flows: []string{windowFlows[flow]}, config: cfg, state: st,
			turns: []turn{{start: "notify", sends: sends}}}
	}
	cases := []runCase{
		start("node fallback", "open", nil, wrote(23*time.Hour+59*time.Minute), text),
		start("node fallback", "closed after 24h", nil, wrote(24*time.Hour), nodeFB),
		start("node fallback", "never wrote", nil, State{Vars: map[string]any{"order_id": "A-1", "customer": "Ann"}}, nodeFB),
		start("node fallback", "margin closes early", margin, wrote(23*time.Hour), nodeFB),
		start("node fallback", "open within the margin", margin, wrote(22*time.Hour+59*time.Minute), text),
		start("node fallback", "node fallback beats flow and bundle", bundle, wrote(25*time.Hour), nodeFB),
		start("flow fallback", "flow fallback", nil, wrote(25*time.Hour), flowFB),
		start("flow fallback", "flow fallback beats bundle", bundle, wrote(25*time.Hour), flowFB),
		start("no fallback", "bundle fallback", bundle, wrote(25*time.Hour), bundleFB),
		start("no fallback", "open, no fallback needed", nil, wrote(time.Hour), text),
	}
	cases = append(cases,
		runCase{name: "none: on_window_closed", flows: []string{windowFlows["no fallback"]}, state: wrote(25 * time.Hour), turns: []turn{{
			start: "notify", sends: []msg.Message{flowFB}, from: []string{"notify/reopen"}, // templates go out when closed
			trace: []TraceKind{TraceWindowClosed, TraceNode, TraceSend}, vset: map[string]any{"after": nil},
		}}},
		runCase{name: "none: continues at next", flows: []string{windowFlows["no fallback, no on_window_closed"]}, state: wrote(25 * time.Hour), turns: []turn{{
			start: "notify", trace: []TraceKind{TraceWindowClosed}, vset: map[string]any{"after": true},
		}}},
		runCase{name: "the user's message reopens it", flows: []string{windowFlows["node fallback"]}, state: wrote(48 * time.Hour), turns: []turn{
			{ev: &msg.Event{Kind: msg.KindText, Text: "order", Time: t0.Add(-25 * time.Hour)}, sends: []msg.Message{nodeFB}}, // delivered late: its own timestamp counts
			{ev: textEv("order"), sends: []msg.Message{text}},
		}},
	)
	runCases(t, cases)
}

func TestWindowRefused(t *testing.T) {
	closed := func(want bool) func(*testing.T, *State, *Result) {
		return func(t *testing.T, st *State, _ *Result) {
			if st.WindowClosed != want {
				t.Errorf("window closed = %v, want %v", st.WindowClosed, want)
			}
		}
	}
	vars := map[string]any{"order_id": "A-1", "customer": "Ann"}
	text, nodeFB := textMsg("Order A-1 shipped"), tmplMsg("order_update", "en", "Ann", "A-1")
	runCases(t, []runCase{
		{name: "send error 131047", flows: []string{windowFlows["node fallback"]}, state: State{LastMessageTime: open.LastMessageTime, Vars: vars}, turns: []turn{
			{start: "notify", sends: []msg.Message{text}},
			{refuse: 1, sends: []msg.Message{nodeFB}, from: []string{"notify/tell"}, trace: []TraceKind{TraceFallback, TraceSend}, check: closed(true)},
			{at: time.Minute, start: "notify", sends: []msg.Message{nodeFB}}, // the channel knows better than last_message_time
			{at: 2 * time.Minute, ev: textEv("order"), sends: []msg.Message{text}, check: closed(false)},
		}},
		{name: "a refused template is only recorded", flows: []string{windowFlows["node fallback"]}, state: State{Vars: vars}, turns: []turn{
			{start: "notify", sends: []msg.Message{nodeFB}},
			{refuse: 1, trace: []TraceKind{TraceWindowClosed}},
		}},
		{name: "failed status with 131047", flows: []string{windowFlows["node fallback"]}, state: State{LastMessageTime: open.LastMessageTime, Vars: vars}, turns: []turn{
			{start: "notify", sends: []msg.Message{text}},
			{at: time.Minute, ev: &msg.Event{Kind: msg.KindStatus, Status: &msg.Status{MessageID: "out.1", State: msg.StatusFailed, WindowClosed: true}},
				sends: []msg.Message{nodeFB}, from: []string{"notify/tell"}, trace: []TraceKind{TraceStatus, TraceFallback}, check: closed(true)},
		}},
		{name: "failed status with 131047 for a template is only recorded", flows: []string{`
name: notify
vars: {customer: "", order_id: ""} # given by the start
start: remind
window_fallback: {name: reopen, language: en}
nodes:
  - {id: remind, type: template, config: {name: order_update, language: en, components: [{type: body, parameters: [{type: text, text: "{{customer}}"}, {type: text, text: "{{order_id}}"}]}]}}
`}, state: State{Vars: vars}, turns: []turn{
			{start: "notify", sends: []msg.Message{nodeFB}},
			{at: time.Minute, ev: &msg.Event{Kind: msg.KindStatus, Status: &msg.Status{MessageID: "out.1", State: msg.StatusFailed, WindowClosed: true}},
				trace: []TraceKind{TraceStatus, TraceWindowClosed}},
		}},
		{name: "failed status for another reason", flows: []string{windowFlows["node fallback"]}, state: State{LastMessageTime: open.LastMessageTime, Vars: vars}, turns: []turn{
			{start: "notify", sends: []msg.Message{text}},
			{ev: status("out.1", msg.StatusFailed), check: closed(false)},
		}},
		{name: "refused without fallback continues at on_window_closed", flows: []string{windowFlows["no fallback"]}, state: State{LastMessageTime: open.LastMessageTime, Vars: vars}, turns: []turn{
			{start: "notify", sends: []msg.Message{text}, vset: map[string]any{"after": true}},
			{refuse: 1, sends: []msg.Message{tmplMsg("reopen", "en")}, from: []string{"notify/reopen"}, trace: []TraceKind{TraceWindowClosed}},
		}},
	})
}

func TestMessageTag(t *testing.T) {
	const flow = `
name: agent
start: answer
nodes:
  - {id: answer, type: reply, config: {message: "An agent replies", tag: HUMAN_AGENT}}
  - {id: untagged, type: reply, config: {message: "Untagged"}}
triggers:
  - {type: message, keywords: [untagged], target: untagged}
`
	tagged := textMsg("An agent replies")
	tagged.Tag = "HUMAN_AGENT"
	wrote := func(ago time.Duration) State { return State{LastMessageTime: t0.Add(-ago).Unix()} }
	startIn := func(name, channel string, st State, sends ...msg.Message) runCase {
		return runCase{name: name, flows: []string{flow}, config: channelPolicies, channel: channel, state: st, turns: []turn{{start: "agent", sends: sends}}}
	}
	runCases(t, []runCase{
		startIn("within 24h no tag is needed", msg.Messenger, wrote(time.Hour), textMsg("An agent replies")),
		startIn("HUMAN_AGENT within 7 days", msg.Messenger, wrote(6*24*time.Hour), tagged),
		startIn("HUMAN_AGENT on Instagram", msg.Instagram, wrote(3*24*time.Hour), tagged),
		startIn("not after 7 days", msg.Messenger, wrote(7*24*time.Hour)),
		startIn("not on WhatsApp", msg.WhatsApp, wrote(3*24*time.Hour)),
		{name: "untagged after 24h", flows: []string{flow}, config: channelPolicies, channel: msg.Messenger, state: wrote(25 * time.Hour), turns: []turn{
			{start: "agent/untagged", trace: []TraceKind{TraceWindowClosed}},
		}},
	})
}

func TestSessionExpiry(t *testing.T) {
	timer := func(want time.Time) func(*testing.T, *State, *Result) {
		return func(t *testing.T, st *State, _ *Result) {
			e := mustEngine(t, Config{Settings: DefaultSettings()}, inputFlow)
			if got := e.NextTimer(st); !got.Equal(want) {
				t.Errorf("next timer = %v, want %v", got, want)
			}
		}
	}
	ask := turn{ev: textEv("age"), sends: []msg.Message{textMsg("How old are you?")}, wait: "ask/get_age", check: timer(t0.Add(10 * time.Minute))}
	runCases(t, []runCase{
		{name: "next event after the session timeout goes through triggers", flows: []string{inputFlow}, turns: []turn{
			ask,
			{at: 24 * time.Hour, ev: textEv("hi"), sends: []msg.Message{textMsg("Hello")}, trace: []TraceKind{TraceExpired, TraceTrigger}, check: timer(time.Time{})},
		}},
		{name: "an answer within the session resumes", flows: []string{inputFlow}, turns: []turn{
			ask,
			{at: 5 * time.Minute, ev: textEv("hi"), sends: []msg.Message{textMsg("Please send a number, Ann.")}, wait: "ask/get_age",
				check: timer(t0.Add(10 * time.Minute))}, // the timeout counts from the first prompt, retries included
		}},
		{name: "a session that expired before the input timeout is not timed out", flows: []string{inputFlow}, config: func(c *Config) { c.Settings.SessionTimeout = 5 * time.Minute }, turns: []turn{
			{ev: textEv("age"), sends: []msg.Message{textMsg("How old are you?")}, wait: "ask/get_age"},
			{at: 11 * time.Minute, tick: true, trace: []TraceKind{TraceExpired}}, // one late tick, as after flowctl's advance
		}},
		{name: "tick expires a wait without timeout", flows: []string{routeFlow}, config: func(c *Config) { c.Settings.SessionTimeout = time.Hour }, turns: []turn{
			{ev: textEv("ask"), wait: "route/ask", check: func(t *testing.T, st *State, _ *Result) {
				e := mustEngine(t, Config{Settings: DefaultSettings()}, routeFlow)
				if got, want := e.NextTimer(st), t0.Add(24*time.Hour); !got.Equal(want) {
					t.Errorf("next timer = %v, want %v (the session timeout)", got, want)
				}
			}},
			{at: 59 * time.Minute, tick: true, wait: "route/ask"},
			{at: time.Hour, tick: true, trace: []TraceKind{TraceExpired}},
		}},
	})
}

// TestSeedExamples runs the expressions docs/flow-format.md shows, as written there.
func TestSeedExamples(t *testing.T) {
	const checkWindow = `
name: check_window
start: check_window
nodes:
  - id: check_window
    type: branch
    config:
      conditions:
        - {expression: "last_message_time + 86400 > now", next: send_freeform}
      default: send_template
  - {id: send_freeform, type: reply, config: {message: "Still in the window"}}
  - {id: send_template, type: template, config: {name: reopen, language: en}}
`
	const handleButton = `
name: handle_button
nodes:
  - id: route_button
    type: branch
    config:
      conditions:
        - {expression: "button.id == 'help'", next: show_help}
        - {expression: "button.id == 'status'", next: check_status}
      default: unknown
  - {id: show_help, type: reply, config: {message: "Here's how I can help..."}}
  - {id: check_status, type: reply, config: {message: "Checking"}}
  - {id: unknown, type: reply, config: {message: "Unknown"}}
triggers:
  - {type: interactive, target: route_button}
`
	runCases(t, []runCase{
		{name: "window open", flows: []string{checkWindow}, state: State{LastMessageTime: t0.Add(-86399 * time.Second).Unix()}, turns: []turn{
			{start: "check_window", sends: []msg.Message{textMsg("Still in the window")}},
		}},
		{name: "window closed", flows: []string{checkWindow}, state: State{LastMessageTime: t0.Add(-86400 * time.Second).Unix()}, turns: []turn{
			{start: "check_window", sends: []msg.Message{tmplMsg("reopen", "en")}},
		}},
		{name: "help button", flows: []string{handleButton}, turns: []turn{
			{ev: buttonReply("help", "Get Help"), sends: []msg.Message{textMsg("Here's how I can help...")}},
			{ev: buttonReply("status", "Check Status"), sends: []msg.Message{textMsg("Checking")}},
			{ev: buttonReply("human", "Talk to Human"), sends: []msg.Message{textMsg("Unknown")}},
		}},
	})
}

// TestWindowFallbackChannels checks that template fallbacks, which only WhatsApp can send, are
// not used on Messenger: there a closed window means a tag or nothing.
func TestWindowFallbackChannels(t *testing.T) {
	const flow = `
name: anywhere
start: tell
nodes:
  - {id: tell, type: reply, config: {message: "Hello"}}
`
	bundle := func(c *Config) {
		channelPolicies(c)
		c.Settings.FallbackTemplate = &TemplateConfig{Name: "reopen", Language: "en"}
	}
	closed := State{LastMessageTime: t0.Add(-25 * time.Hour).Unix()}
	runCases(t, []runCase{
		{name: "whatsapp", flows: []string{flow}, config: bundle, state: closed, turns: []turn{
			{start: "anywhere", sends: []msg.Message{tmplMsg("reopen", "en")}},
		}},
		{name: "messenger", flows: []string{flow}, config: bundle, channel: msg.Messenger, state: closed, turns: []turn{
			{start: "anywhere", trace: []TraceKind{TraceWindowClosed}},
		}},
	})
}

// TestStartDuringHandoff: while a human agent has the conversation, an API start runs nothing.
func TestStartDuringHandoff(t *testing.T) {
	e := mustEngine(t, Config{Settings: DefaultSettings()}, `
name: f
start: hello
nodes:
  - {id: hello, type: reply, config: {message: "hello"}}
`)
	st := &State{Handoff: "support", LastMessageTime: 1750000000}
	res, err := e.Start(context.Background(), Conversation{Channel: "whatsapp", User: "1"}, st, "f", "", nil, time.Unix(1750000100, 0))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Sends) != 0 || len(res.Trace) != 1 || res.Trace[0].Kind != TraceHandoff {
		t.Fatalf("sends %v, trace %v", res.Sends, res.Trace)
	}
}

// TestNextTimerWithoutSessionTimeout: with session expiry off, only an input timeout is due.
func TestNextTimerWithoutSessionTimeout(t *testing.T) {
	e := mustEngine(t, Config{Settings: DefaultSettings()}, `
name: f
nodes:
  - {id: hello, type: reply, config: {message: "hello"}}
triggers:
  - {type: any, target: hello}
`)
	e.settings.SessionTimeout = 0
	if got := e.NextTimer(&State{Flow: "f", Node: "ask", Active: 100}); !got.IsZero() {
		t.Errorf("no timeout: NextTimer = %v, want zero", got)
	}
	if got := e.NextTimer(&State{Flow: "f", Node: "ask", Active: 100, Timeout: 500}); got.Unix() != 500 {
		t.Errorf("timeout 500: NextTimer = %v", got.Unix())
	}
}

// TestHeld: after the event's one fallback template, the event's other free-form messages are
// held, and go out in order when the user's next message opens the window, before it is routed.
func TestHeld(t *testing.T) {
	const flow = `
name: three
start: one
window_fallback: {name: reopen, language: en}
nodes:
  - {id: one, type: reply, config: {message: "one"}, next: two}
  - {id: two, type: reply, config: {message: "two", on_window_closed: lost}, next: three}
  - {id: three, type: reply, config: {message: "three"}}
  - {id: lost, type: set, config: {vars: {lost: "true"}}, next: three}
  - {id: hello, type: reply, config: {message: "hello"}}
triggers:
  - {type: message, keywords: [hi], target: hello}
`
	reopen, one, two, three, hello := tmplMsg("reopen", "en"), textMsg("one"), textMsg("two"), textMsg("three"), textMsg("hello")
	held := func(want ...string) func(*testing.T, *State, *Result) {
		return func(t *testing.T, st *State, _ *Result) {
			var got []string
			for _, h := range st.Held {
				got = append(got, h.Message.Text.Body)
			}
			if !slices.Equal(got, want) {
				t.Errorf("held %q, want %q", got, want)
			}
		}
	}
	closed := State{} // the user never wrote
	started := turn{start: "three", sends: []msg.Message{reopen},
		trace: []TraceKind{TraceFallback, TraceSend, TraceWindowClosed, TraceWindowClosed}, check: held("two", "three")}
	settings := func(f func(*Settings)) func(*Config) { return func(c *Config) { f(&c.Settings) } }
	runCases(t, []runCase{
		{name: "one fallback, the rest held, delivered before the reply is routed", flows: []string{flow}, state: closed, turns: []turn{
			started,
			{at: time.Hour, ev: textEv("hi"), sends: []msg.Message{two, three, hello}, from: []string{"three/two", "three/three", "three/hello"},
				trace: []TraceKind{TraceHeld, TraceSend, TraceHeld, TraceSend, TraceTrigger}, check: held()},
			{at: 2 * time.Hour, ev: textEv("hi"), sends: []msg.Message{hello}},
		}},
		{name: "a held message continues at next, not on_window_closed", flows: []string{flow}, state: closed, turns: []turn{
			{start: "three", sends: []msg.Message{reopen}, vset: map[string]any{"lost": nil}},
		}},
		{name: "a late message that leaves the window closed keeps them", flows: []string{flow}, state: closed, turns: []turn{
			started,
			{at: time.Hour, ev: &msg.Event{Kind: msg.KindText, Text: "hi", Time: t0.Add(-25 * time.Hour)}, sends: []msg.Message{reopen}, check: held("two", "three")},
		}},
		{name: "the next event's fallback holds more, oldest first", flows: []string{flow}, state: closed, turns: []turn{
			started,
			{at: time.Hour, start: "three", sends: []msg.Message{reopen}, check: held("two", "three", "two", "three")},
		}},
		{name: "window.hold_messages keeps the latest", flows: []string{flow}, config: settings(func(s *Settings) { s.HoldMessages = 1 }), state: closed, turns: []turn{
			{start: "three", sends: []msg.Message{reopen}, trace: []TraceKind{TraceFallback, TraceWindowClosed, TraceWindowClosed, TraceHeld}, check: held("three")},
		}},
		{name: "window.hold_for drops them unsent", flows: []string{flow}, state: closed, turns: []turn{
			started,
			{at: 7 * 24 * time.Hour, ev: textEv("hi"), sends: []msg.Message{hello}, trace: []TraceKind{TraceHeld, TraceHeld, TraceTrigger}, check: held()},
		}},
		{name: "window.hold off: dropped, on_window_closed taken", flows: []string{flow}, config: settings(func(s *Settings) { s.Hold = false }), state: closed, turns: []turn{
			{start: "three", sends: []msg.Message{reopen}, trace: []TraceKind{TraceFallback, TraceWindowClosed, TraceNode, TraceWindowClosed},
				vset: map[string]any{"lost": true}, check: held()},
			{at: time.Hour, ev: textEv("hi"), sends: []msg.Message{hello}},
		}},
		{name: "opting out drops them", flows: []string{flow}, state: closed, turns: []turn{
			started,
			{at: time.Hour, ev: textEv("STOP"), sends: []msg.Message{textMsg(DefaultSettings().OptOutConfirmation)}, trace: []TraceKind{TraceOptOut, TraceHeld, TraceHeld}, check: held()},
		}},
		{name: "within the window nothing is held", flows: []string{flow}, state: open, turns: []turn{
			{start: "three", sends: []msg.Message{one, two, three}, check: held()},
		}},
		{name: "the channel refused the first: one fallback, the rest held", flows: []string{flow}, state: open, turns: []turn{
			{start: "three", sends: []msg.Message{one, two, three}},
			{refuse: 1, sends: []msg.Message{reopen}, trace: []TraceKind{TraceFallback, TraceWindowClosed, TraceWindowClosed}, check: held("two", "three")},
			{at: time.Hour, ev: textEv("hi"), sends: []msg.Message{two, three, hello}},
		}},
	})
}
