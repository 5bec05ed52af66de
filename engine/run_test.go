package engine

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/engine/msg"
)

// open is a state whose 24-hour window is open at t0: the user wrote an hour before.
var open = State{LastMessageTime: t0.Add(-time.Hour).Unix()}

func TestReplyNode(t *testing.T) {
	const flow = `
name: replies
vars: {order_id: ""} # given by the start
nodes:
  - id: greet
    type: reply
    config: {message: "Hi {{ contact.name }}, order {{order_id}} is ready", preview_url: true}
  - id: menu
    type: reply
    config:
      interactive:
        type: button
        header: {type: text, text: "Menu for {{ contact.name }}"}
        body: {text: "What next?"}
        footer: {text: "Acme"}
        action:
          buttons:
            - {type: reply, reply: {id: help, title: "Help"}}
            - {type: reply, reply: {id: order, title: "Order {{order_id}}"}}
  - id: topics
    type: reply
    config:
      interactive:
        type: list
        body: {text: "Pick a topic"}
        action:
          button: "Topics"
          sections:
            - title: "Orders"
              rows:
                - {id: track, title: "Track {{order_id}}", description: "Where is it?"}
                - {id: cancel, title: "Cancel"}
  - id: photo
    type: reply
    config:
      media: {type: image, link: "https://example.com/{{order_id}}.jpg", caption: "Order {{order_id}}"}
  - id: invoice
    type: reply
    config:
      media: {type: document, id: "media-1", filename: "{{order_id}}.pdf"}
  - id: store
    type: reply
    config:
      location: {latitude: 37.44, longitude: -122.16, name: "Acme", address: "{{ upper('101 forest ave') }}"}
  - id: notify
    type: reply
    config:
      template:
        name: promo
        language: en
        components:
          - type: header
            parameters: [{type: image, image: {link: "https://example.com/{{order_id}}.jpg"}}]
          - type: body
            parameters: [{type: text, text: "{{ contact.name }}"}]
          - type: button
            sub_type: quick_reply
            index: 0
            parameters: [{type: payload, payload: "reorder-{{order_id}}"}]
      retry_on_rate_limit: false
triggers:
  - {type: message, keywords: [greet], target: greet}
  - {type: message, keywords: [menu], target: menu}
  - {type: message, keywords: [topics], target: topics}
  - {type: message, keywords: [photo], target: photo}
  - {type: message, keywords: [invoice], target: invoice}
  - {type: message, keywords: [store], target: store}
  - {type: message, keywords: [notify], target: notify}
`
	vars := map[string]any{"order_id": "A-1"}
	one := func(word string, want msg.Message) runCase {
		return runCase{name: word, flows: []string{flow}, state: State{Vars: vars}, turns: []turn{
			{ev: textEv(word), sends: []msg.Message{want}, from: []string{"replies/" + map[string]string{
				"greet": "greet", "menu": "menu", "topics": "topics", "photo": "photo",
				"invoice": "invoice", "store": "store", "notify": "notify"}[word]}},
		}}
	}
	runCases(t, []runCase{
		one("greet", msg.Message{Text: &msg.Text{Body: "Hi Ann, order A-1 is ready", PreviewURL: true}}),
		one("menu", msg.Message{Interactive: &msg.Interactive{
			Type:    "button",
			Header:  &msg.Header{Type: "text", Text: "Menu for Ann"},
			Body:    "What next?",
			Footer:  "Acme",
			Buttons: []msg.Button{{ID: "help", Title: "Help"}, {ID: "order", Title: "Order A-1"}},
		}}),
		one("topics", msg.Message{Interactive: &msg.Interactive{
			Type: "list", Body: "Pick a topic", ListButton: "Topics",
			Sections: []msg.Section{{Title: "Orders", Rows: []msg.Row{
				{ID: "track", Title: "Track A-1", Description: "Where is it?"},
				{ID: "cancel", Title: "Cancel"},
			}}},
		}}),
		one("photo", msg.Message{Media: &msg.OutMedia{Type: "image", Link: "https://example.com/A-1.jpg", Caption: "Order A-1"}}),
		one("invoice", msg.Message{Media: &msg.OutMedia{Type: "document", ID: "media-1", Filename: "A-1.pdf"}}),
		one("store", msg.Message{Location: &msg.Location{Latitude: 37.44, Longitude: -122.16, Name: "Acme", Address: "101 FOREST AVE"}}),
		one("notify", msg.Message{NoRetryOnRateLimit: true, Template: &msg.Template{Name: "promo", Language: "en", Components: []msg.Component{
			{Type: "header", Parameters: []msg.Parameter{{Type: "image", Media: &msg.OutMedia{Type: "image", Link: "https://example.com/A-1.jpg"}}}},
			{Type: "body", Parameters: []msg.Parameter{{Type: "text", Text: "Ann"}}},
			{Type: "button", SubType: "quick_reply", Index: 0, Parameters: []msg.Parameter{{Type: "payload", Payload: "reorder-A-1"}}},
		}}}),
	})
}

func TestTemplateNode(t *testing.T) {
	const flow = `
name: shipping
vars: {customer: "", order_id: ""} # given by the start
start: shipped
nodes:
  - id: shipped
    type: template
    config:
      name: order_update
      language: es
      components:
        - type: body
          parameters:
            - {type: text, text: "{{customer}}"}
            - {type: text, text: "{{order_id}}"}
    next: done
  - id: done
    type: set
    config:
      vars: {notified: "true"}
`
	runCases(t, []runCase{{
		name: "sent with the window closed", flows: []string{flow},
		turns: []turn{{
			start: "shipping", vars: map[string]any{"customer": "Ana", "order_id": "B-7"},
			sends: []msg.Message{tmplMsg("order_update", "es", "Ana", "B-7")},
			trace: []TraceKind{TraceTrigger, TraceNode, TraceSend, TraceNode},
			vset:  map[string]any{"notified": true},
		}},
	}})
}

func TestBranchNode(t *testing.T) {
	const flow = `
name: branch
vars: {n: 0}
nodes:
  - id: route
    type: branch
    config:
      conditions:
        - {expression: "input == 'a'", next: is_a}
        - {expression: "len(input) == 1", next: one_char}
        - {expression: "vars.n > 3", next: big}
      default: other
  - id: is_a
    type: reply
    config: {message: "a"}
  - id: one_char
    type: reply
    config: {message: "one character"}
  - id: big
    type: reply
    config: {message: "big"}
  - id: other
    type: reply
    config: {message: "something else"}
triggers:
  - {type: message, target: route}
`
	word := func(in, want string) runCase {
		return runCase{name: in, flows: []string{flow}, turns: []turn{{ev: textEv(in), sends: []msg.Message{textMsg(want)}}}}
	}
	runCases(t, []runCase{
		word("a", "a"), // the first two both hold: the first wins
		word("b", "one character"),
		word("bb", "something else"),
		{name: "runtime error is false", flows: []string{flow}, state: State{Vars: map[string]any{"n": "x"}}, turns: []turn{{
			ev: textEv("cc"), sends: []msg.Message{textMsg("something else")},
			trace: []TraceKind{TraceError, TraceNode, TraceSend},
		}}},
		{name: "vars in conditions", flows: []string{flow}, state: State{Vars: map[string]any{"n": 4}}, turns: []turn{{
			ev: textEv("cc"), sends: []msg.Message{textMsg("big")},
		}}},
	})
}

func TestSetNode(t *testing.T) {
	const flow = `
name: set
nodes:
  - id: compute
    type: set
    config:
      vars:
        x: "2"
        y: "vars.x * 10"
        label: "'total ' + string(vars.y)"
        who: "contact.name"
        at: "now"
        tags: "['a', vars.label]"
    next: show
  - id: show
    type: reply
    config: {message: "{{label}} for {{who}}"}
triggers:
  - {type: message, target: compute}
`
	runCases(t, []runCase{{
		name: "in order, later vars see earlier ones", flows: []string{flow},
		turns: []turn{{
			ev:    textEv("go"),
			sends: []msg.Message{textMsg("total 20 for Ann")},
			vset: map[string]any{"x": 2, "y": 20, "label": "total 20", "who": "Ann", "at": int(t0.Unix()),
				"tags": []any{"a", "total 20"}},
		}},
	}})
}

// TestMessageWithoutTimestamp: a message whose provider gave no readable timestamp counts as
// received when it is handled, so it opens the window like any other.
func TestMessageWithoutTimestamp(t *testing.T) {
	e := mustEngine(t, Config{Settings: DefaultSettings()}, `
name: f
nodes:
  - {id: hello, type: reply, config: {message: "{{ message.timestamp == now ? 'open' : 'stale' }}"}}
triggers:
  - {type: any, target: hello}
`)
	st := &State{LastMessageTime: t0.Add(-48 * time.Hour).Unix()}
	ev := &msg.Event{Kind: msg.KindText, Channel: msg.WhatsApp, From: user, ID: "in.1", Text: "hi"}
	res := e.Handle(context.Background(), testConv, st, ev, t0)
	if st.LastMessageTime != t0.Unix() {
		t.Errorf("last message time %d, want now (%d)", st.LastMessageTime, t0.Unix())
	}
	if len(res.Sends) != 1 || res.Sends[0].Message.Text == nil || res.Sends[0].Message.Text.Body != "open" {
		t.Errorf("sends %+v, want the free-form text\n%s", res.Sends, traceLines(res))
	}
}

// TestTypesAcrossAWait: durations, times and the rest keep their types when the state is
// stored at an input node and read back for the answer (the runner round-trips the state
// between turns, as the host does).
func TestTypesAcrossAWait(t *testing.T) {
	const flow = `
name: typed
nodes:
  - id: remember
    type: set
    config:
      vars:
        length: duration("90m")
        day: date("2026-01-20 14:00:00")
        asked_at: now
        sizes: split("S,M,L", ",")
    next: wait
  - {id: wait, type: input, config: {save_as: answer}, next: use}
  - id: use
    type: reply
    config: {message: "{{ vars.length.Minutes() }} min from {{ vars.day.Format('15:04') }} to {{ vars.day.Add(vars.length).Format('15:04') }}, {{ len(vars.sizes) }} sizes, asked {{ now - vars.asked_at }}s ago"}
triggers:
  - {type: message, keywords: [book], target: remember}
`
	day := time.Date(2026, 1, 20, 14, 0, 0, 0, time.UTC)
	runCases(t, []runCase{{
		name: "types survive", flows: []string{flow},
		turns: []turn{
			{ev: textEv("book"), wait: "typed/wait", vset: map[string]any{"length": 90 * time.Minute, "day": day, "asked_at": int(t0.Unix()), "sizes": []any{"S", "M", "L"}}},
			{at: time.Minute, ev: textEv("ok"), sends: []msg.Message{textMsg("90 min from 14:00 to 15:30, 3 sizes, asked 60s ago")},
				vset: map[string]any{"length": 90 * time.Minute, "day": day}},
		},
	}})
}

// TestSetRefusesAtRunTime: a value known only when the expression runs, which a variable
// cannot keep, leaves the variable as it was, says why in the trace and fails the node: the
// run ends there, before the variables after it.
func TestSetRefusesAtRunTime(t *testing.T) {
	const flow = `
name: zone
nodes:
  - id: remember
    type: set
    config:
      vars:
        zone: "vars.zone ?? timezone('UTC')"
        ok: "'yes'"
triggers:
  - {type: message, target: remember}
`
	runCases(t, []runCase{{
		name: "refused", flows: []string{flow},
		turns: []turn{{ev: textEv("go"), trace: []TraceKind{TraceError}, check: func(t *testing.T, st *State, res *Result) {
			for _, name := range []string{"zone", "ok"} {
				if _, ok := st.Vars[name]; ok {
					t.Errorf("vars.%s = %#v, want it not set", name, st.Vars[name])
				}
			}
			if d := res.Trace[len(res.Trace)-1].Detail; !strings.Contains(d, "vars.zone not set: a value of type time.Location cannot be kept") {
				t.Errorf("trace: %s", traceLines(res))
			}
		}}},
	}})
}

const inputFlow = `
name: ask
nodes:
  - id: ask_age
    type: reply
    config: {message: "How old are you?"}
    next: get_age
  - id: get_age
    type: input
    config:
      save_as: age
      validate: "input matches '^[0-9]+$'"
      retry_message: "Please send a number, {{ contact.name }}."
      max_attempts: 2
      timeout: 10m
      on_timeout: too_slow
      on_invalid: gave_up
    next: thanks
  - id: thanks
    type: reply
    config: {message: "Thanks, you are {{age}}."}
  - id: too_slow
    type: reply
    config: {message: "Too slow."}
  - id: gave_up
    type: reply
    config: {message: "Never mind."}
  - id: menu
    type: reply
    config: {message: "Menu"}
  - id: hello
    type: reply
    config: {message: "Hello"}
triggers:
  - {type: message, keywords: [age], target: ask_age}
  - {type: message, keywords: [hi], target: hello}
  - {type: message, keywords: [menu], target: menu, interrupt: true}
`

func TestInputNode(t *testing.T) {
	ask := turn{ev: textEv("age"), sends: []msg.Message{textMsg("How old are you?")}, wait: "ask/get_age",
		trace: []TraceKind{TraceTrigger, TraceNode, TraceSend, TraceNode, TraceWait}}
	runCases(t, []runCase{
		{name: "answer is saved", flows: []string{inputFlow}, turns: []turn{
			ask,
			{at: time.Minute, ev: textEv("42"), sends: []msg.Message{textMsg("Thanks, you are 42.")},
				trace: []TraceKind{TraceResume, TraceNode, TraceSend}, vset: map[string]any{"age": "42"}},
		}},
		{name: "invalid answer retries, then on_invalid", flows: []string{inputFlow}, turns: []turn{
			ask,
			{at: time.Minute, ev: textEv("old"), sends: []msg.Message{textMsg("Please send a number, Ann.")},
				wait: "ask/get_age", trace: []TraceKind{TraceInvalid, TraceSend},
				check: func(t *testing.T, st *State, _ *Result) {
					if st.Attempts != 1 {
						t.Errorf("attempts = %d, want 1", st.Attempts)
					}
				}},
			{at: 2 * time.Minute, ev: textEv("very old"), sends: []msg.Message{textMsg("Never mind.")},
				trace: []TraceKind{TraceInvalid, TraceNode, TraceSend}, vset: map[string]any{"age": nil},
				check: func(t *testing.T, st *State, _ *Result) {
					if st.Attempts != 0 {
						t.Errorf("attempts = %d after leaving the node, want 0", st.Attempts)
					}
				}},
		}},
		{name: "a trigger keyword is an answer while waiting", flows: []string{inputFlow}, turns: []turn{
			ask,
			{ev: textEv("hi"), sends: []msg.Message{textMsg("Please send a number, Ann.")}, wait: "ask/get_age"},
		}},
		{name: "interrupt trigger leaves the wait", flows: []string{inputFlow}, turns: []turn{
			ask,
			{ev: textEv("MENU"), sends: []msg.Message{textMsg("Menu")}, trace: []TraceKind{TraceTrigger}},
			{ev: textEv("42")}, // not an answer any more: nothing matches
		}},
		{name: "timeout", flows: []string{inputFlow}, turns: []turn{
			ask,
			{at: 9 * time.Minute, tick: true, wait: "ask/get_age"},
			{at: 10 * time.Minute, tick: true, sends: []msg.Message{textMsg("Too slow.")},
				trace: []TraceKind{TraceTimeout, TraceNode, TraceSend}},
			{at: 11 * time.Minute, tick: true},
		}},
		{name: "a number change notice is no answer, and replies go to the new number", flows: []string{inputFlow}, turns: []turn{
			ask,
			{ev: &msg.Event{Kind: msg.KindSystem, System: &msg.System{Type: msg.SystemNumberChanged, NewID: "12195555358"}},
				wait: "ask/get_age", trace: []TraceKind{TraceIgnored},
				check: func(t *testing.T, st *State, _ *Result) {
					if st.Phone != "12195555358" || st.Attempts != 0 {
						t.Errorf("phone %q, attempts %d; want the new number and no attempt", st.Phone, st.Attempts)
					}
				}},
			{ev: &msg.Event{Kind: msg.KindText, Text: "42", Contact: msg.Contact{Name: "Ann", Phone: "12195555358"}},
				sends: []msg.Message{{To: user, Phone: "12195555358", Text: &msg.Text{Body: "Thanks, you are 42."}}}},
		}},
		{name: "an answer before the timer fires wins", flows: []string{inputFlow}, turns: []turn{
			ask,
			{at: 9 * time.Minute, ev: textEv("7"), sends: []msg.Message{textMsg("Thanks, you are 7.")}},
			{at: 10 * time.Minute, tick: true},
		}},
	})
}

// fakeHTTP answers http nodes and records their requests.
type fakeHTTP struct {
	resp *HTTPResponse
	err  error
	reqs []*HTTPRequest
}

func (f *fakeHTTP) Do(_ context.Context, req *HTTPRequest) (*HTTPResponse, error) {
	f.reqs = append(f.reqs, req)
	return f.resp, f.err
}

func TestHTTPNode(t *testing.T) {
	const flow = `
name: order
vars: {order_id: "", token: ""} # given by the start
nodes:
  - id: lookup
    type: http
    config:
      method: POST
      url: "https://api.example.com/orders/{{order_id}}"
      headers: {Authorization: "Bearer {{token}}"}
      body: {id: "{{order_id}}", who: "{{ contact.name }}", n: 3, tags: ["{{order_id}}", x]}
      timeout: 2s
      save_as: order
      on_error: failed
    next: show
  - id: show
    type: reply
    config: {message: "{{ vars.order.body.state }} ({{ vars.order.status }})"}
  - id: failed
    type: reply
    config: {message: "Lookup failed"}
triggers:
  - {type: message, target: lookup}
`
	vars := map[string]any{"order_id": "A-1", "token": "s3cret"}
	cases := []struct {
		name  string
		http  *fakeHTTP
		want  string
		order any
	}{
		{"success", &fakeHTTP{resp: &HTTPResponse{Status: 200, Body: map[string]any{"state": "shipped"}}},
			"shipped (200)", map[string]any{"status": 200, "body": map[string]any{"state": "shipped"}}},
		{"error", &fakeHTTP{err: errors.New("connection refused")}, "Lookup failed", nil},
		{"status 404", &fakeHTTP{resp: &HTTPResponse{Status: 404, Body: map[string]any{"error": "no such order"}}},
			"Lookup failed", map[string]any{"status": 404, "body": map[string]any{"error": "no such order"}}},
		{"no client", nil, "Lookup failed", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			runCase{name: c.name, flows: []string{flow}, state: State{Vars: vars},
				config: func(cfg *Config) {
					if c.http != nil {
						cfg.HTTP = c.http
					}
				},
				turns: []turn{{ev: textEv("status"), sends: []msg.Message{textMsg(c.want)}, vset: map[string]any{"order": c.order}}},
			}.run(t)
			if c.http == nil {
				return
			}
			if len(c.http.reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(c.http.reqs))
			}
			req := c.http.reqs[0]
			body, _ := json.Marshal(map[string]any{"id": "A-1", "who": "Ann", "n": 3, "tags": []any{"A-1", "x"}})
			if req.Method != "POST" || req.URL != "https://api.example.com/orders/A-1" ||
				req.Headers["Authorization"] != "Bearer s3cret" || string(req.Body) != string(body) || req.Timeout != 2*time.Second {
				t.Errorf("request = %s %s %v %s %v, want POST https://api.example.com/orders/A-1, the token, %s, 2s",
					req.Method, req.URL, req.Headers, req.Body, req.Timeout, body)
			}
		})
	}
}

func TestHTTPNodeDefaults(t *testing.T) {
	const flow = `
name: ping
nodes:
  - id: ping
    type: http
    config: {url: "https://api.example.com/ping"}
    next: done
  - id: done
    type: reply
    config: {message: "done"}
triggers:
  - {type: message, target: ping}
`
	h := &fakeHTTP{resp: &HTTPResponse{Status: 204}}
	runCase{name: "defaults", flows: []string{flow}, config: func(c *Config) { c.HTTP = h },
		turns: []turn{{ev: textEv("ping"), sends: []msg.Message{textMsg("done")}}},
	}.run(t)
	if len(h.reqs) != 1 || h.reqs[0].Method != "GET" || h.reqs[0].Timeout != 5*time.Second || h.reqs[0].Body != nil {
		t.Errorf("requests = %+v, want one GET with the 5s default timeout and no body", h.reqs)
	}
}

const handoffFlow = `
name: support
nodes:
  - id: human
    type: handoff
    config: {queue: support, message: "Connecting you, {{ contact.name }}."}
  - id: hello
    type: reply
    config: {message: "Hello"}
triggers:
  - {type: message, keywords: [agent], target: human}
  - {type: any, target: hello}
`

func TestHandoffNode(t *testing.T) {
	runCases(t, []runCase{{
		name: "events are kept, no flow runs", flows: []string{handoffFlow},
		turns: []turn{
			{ev: textEv("agent"), sends: []msg.Message{textMsg("Connecting you, Ann.")}, trace: []TraceKind{TraceSend, TraceHandoff},
				check: func(t *testing.T, st *State, _ *Result) {
					if st.Handoff != "support" {
						t.Errorf("handoff = %q, want support", st.Handoff)
					}
				}},
			{ev: textEv("hello?"), kept: true, trace: []TraceKind{TraceHandoff}},
			{ev: buttonReply("yes", "Yes"), kept: true},
			{at: time.Hour, tick: true},
		},
	}})
}

func TestGotoNode(t *testing.T) {
	const main = `
name: main
nodes:
  - id: to_other
    type: goto
    config: {flow: other}
  - id: to_second
    type: goto
    config: {flow: other, node: second}
triggers:
  - {type: message, keywords: [one], target: to_other}
  - {type: message, keywords: [two], target: to_second}
`
	const other = `
name: other
start: first
vars: {greeting: "Hello"}
nodes:
  - id: first
    type: reply
    config: {message: "{{greeting}} from first"}
    next: second
  - id: second
    type: reply
    config: {message: "second"}
`
	runCases(t, []runCase{
		{name: "start node", flows: []string{main, other}, turns: []turn{{
			ev: textEv("one"), sends: []msg.Message{textMsg("Hello from first"), textMsg("second")},
			from: []string{"other/first", "other/second"}, vset: map[string]any{"greeting": "Hello"},
		}}},
		{name: "named node", flows: []string{main, other}, turns: []turn{{
			ev: textEv("two"), sends: []msg.Message{textMsg("second")}, from: []string{"other/second"},
		}}},
		{name: "flow vars do not override", flows: []string{main, other}, state: State{Vars: map[string]any{"greeting": "Hi"}}, turns: []turn{{
			ev: textEv("one"), sends: []msg.Message{textMsg("Hi from first"), textMsg("second")},
		}}},
	})
}

func TestEndNode(t *testing.T) {
	const flow = `
name: stop
nodes:
  - id: route
    type: branch
    config:
      conditions:
        - {expression: "input == 'more'", next: more}
      default: done
  - id: more
    type: reply
    config: {message: "more"}
  - id: done
    type: end
triggers:
  - {type: message, target: route}
`
	runCases(t, []runCase{{name: "ends the run", flows: []string{flow}, turns: []turn{
		{ev: textEv("done"), trace: []TraceKind{TraceNode, TraceNode}, check: func(t *testing.T, _ *State, res *Result) {
			if last := res.Trace[len(res.Trace)-1]; last.Kind != TraceNode || last.Node != "stop/done" {
				t.Errorf("last trace entry = %v, want the end node", last)
			}
		}},
		{ev: textEv("more"), sends: []msg.Message{textMsg("more")}},
	}}})
}

func TestStepLimit(t *testing.T) {
	const flow = `
name: chain
nodes:
  - {id: n1, type: set, config: {vars: {n1: "1"}}, next: n2}
  - {id: n2, type: set, config: {vars: {n2: "2"}}, next: n3}
  - {id: n3, type: set, config: {vars: {n3: "3"}}, next: n4}
  - {id: n4, type: set, config: {vars: {n4: "4"}}}
triggers:
  - {type: any, target: n1}
`
	runCases(t, []runCase{
		{name: "stops with a loop trace", flows: []string{flow}, config: func(c *Config) { c.Settings.MaxSteps = 3 }, turns: []turn{{
			ev: textEv("go"), trace: []TraceKind{TraceNode, TraceNode, TraceNode, TraceLoop},
			vset: map[string]any{"n3": 3, "n4": nil},
		}}},
		{name: "within the limit", flows: []string{flow}, config: func(c *Config) { c.Settings.MaxSteps = 4 }, turns: []turn{{
			ev: textEv("go"), vset: map[string]any{"n4": 4},
			check: func(t *testing.T, _ *State, res *Result) {
				if hasKinds(res.Trace, []TraceKind{TraceLoop}) {
					t.Errorf("loop trace within the limit:\n%s", traceLines(res))
				}
			},
		}}},
	})
}

// TestBranchTraceShowsConditions: a branch's trace entry lists each condition tried with its
// value and the node taken, so that an author sees why the run went where it did.
func TestBranchTraceShowsConditions(t *testing.T) {
	e := mustEngine(t, Config{Settings: DefaultSettings()}, `
name: f
nodes:
  - id: route
    type: branch
    config:
      conditions:
        - {expression: "input == 'a'", next: a}
        - {expression: "input == 'b'", next: b}
      default: other
  - {id: a, type: reply, config: {message: "a"}}
  - {id: b, type: reply, config: {message: "b"}}
  - {id: other, type: reply, config: {message: "other"}}
triggers:
  - {type: any, target: route}
`)
	for _, c := range []struct{ in, want string }{
		{"a", "input == 'a' is true → a"},
		{"b", "input == 'a' is false, input == 'b' is true → b"},
		{"c", "input == 'a' is false, input == 'b' is false; default → other"},
	} {
		res := e.Handle(context.Background(), testConv, &State{}, &msg.Event{Kind: msg.KindText, Channel: msg.WhatsApp, From: user, ID: "in." + c.in, Text: c.in}, t0)
		var got string
		for _, tr := range res.Trace {
			if tr.Kind == TraceBranch && tr.Node == "f/route" {
				got = tr.Detail
			}
		}
		if got != c.want {
			t.Errorf("%q: branch trace %q, want %q\n%s", c.in, got, c.want, traceLines(res))
		}
	}
}
