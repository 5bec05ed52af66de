package engine

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/engine/msg"
)

// helperFlow puts the user's text into a URL path through a helper, and a profile name with
// formatting characters into a reply.
const helperFlow = `
name: helpers
nodes:
  - id: get
    type: http
    config: {url: "https://api.example.com/files/{{ %s }}?q={{ %s }}", on_error: failed}
    next: done
  - id: done
    type: reply
    config: {message: "Hi {{ escapeFormatting(contact.name) }}"}
  - id: failed
    type: reply
    config: {message: "failed"}
triggers:
  - {type: message, target: get}
`

// TestURLHelpers: urlPath keeps a value's slashes but still escapes each segment and refuses
// dot segments; rawURL inserts a value as it is; escapeFormatting stops WhatsApp formatting.
func TestURLHelpers(t *testing.T) {
	for _, c := range []struct {
		name, path, query, input string
		want                     string // request URL; "" for none
	}{
		{"urlPath keeps slashes", "urlPath(input)", "'x'", "docs/2024/a b.pdf", "https://api.example.com/files/docs/2024/a%20b.pdf?q=x"},
		{"urlPath escapes ? and #", "urlPath(input)", "'x'", "a/b?admin=1#", "https://api.example.com/files/a/b%3Fadmin=1%23?q=x"},
		{"urlPath refuses dot segments", "urlPath(input)", "'x'", "a/../../admin", ""},
		{"rawURL inserts as is", "'f'", "rawURL(input)", "a&b=c", "https://api.example.com/files/f?q=a&b=c"},
		{"default escaping", "input", "input", "a/b&c", "https://api.example.com/files/a%2Fb&c?q=a%2Fb%26c"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := &fakeHTTP{resp: &HTTPResponse{Status: 200}}
			reply := "Hi ∗Ann∗ ˍxˍ ∼y∼ ˋzˋ"
			if c.want == "" {
				reply = "failed"
			}
			ev := &msg.Event{Kind: msg.KindText, Text: c.input, Contact: msg.Contact{ID: user, Name: "*Ann* _x_ ~y~ `z`"}}
			flow := strings.Replace(strings.Replace(helperFlow, "%s", c.path, 1), "%s", c.query, 1)
			runCase{name: c.name, flows: []string{flow}, config: func(cfg *Config) { cfg.HTTP = h },
				turns: []turn{{ev: ev, sends: []msg.Message{textMsg(reply)}}}}.run(t)
			switch {
			case c.want == "" && len(h.reqs) > 0:
				t.Fatalf("request sent to %s, want none", h.reqs[0].URL)
			case c.want == "":
			case len(h.reqs) != 1 || h.reqs[0].URL != c.want:
				t.Errorf("requests %v, want one to %s", h.reqs, c.want)
			}
		})
	}
}

// TestValueLengthFailsHTTPNode: a value over limits.value_length is cut in a message, with a
// limit entry in the trace, and fails an http node rather than send a cut value.
func TestValueLengthFailsHTTPNode(t *testing.T) {
	h := &fakeHTTP{resp: &HTTPResponse{Status: 200}}
	long := strings.Repeat("9", 30)
	ev := &msg.Event{Kind: msg.KindText, Text: long, Contact: msg.Contact{ID: user, Name: strings.Repeat("n", 30)}}
	flow := strings.Replace(strings.Replace(helperFlow, "%s", "input", 1), "%s", "'x'", 1)
	flow = strings.Replace(flow, `message: "failed"`, `message: "failed for {{ contact.name }}"`, 1)
	runCase{name: "value length", flows: []string{flow},
		config: func(cfg *Config) { cfg.HTTP = h; cfg.Settings.MaxValueLength = 10 },
		turns: []turn{{ev: ev, sends: []msg.Message{textMsg("failed for nnnnnnnnn…")},
			trace: []TraceKind{TraceLimit, TraceError, TraceLimit}}}}.run(t)
	if len(h.reqs) != 0 {
		t.Errorf("request sent to %s with a cut value", h.reqs[0].URL)
	}
}

// TestCostlyExpressionWarnings: validation warns, at the expression, about the hostile-input
// report's expressions and others whose cost grows with user input; cheap ones pass quietly.
func TestCostlyExpressionWarnings(t *testing.T) {
	for _, tc := range []struct{ expr, want string }{
		{`repeat(input, 1000000)`, `a.yaml:5:25: warning: node "n": vars.x: repeat of computed values`},
		{`reduce(1..200, #acc + 'x', '')`, `a.yaml:5:25: warning: node "n": vars.x: reduce that joins strings onto #acc`},
		{`len(1..200000)`, `a.yaml:5:30: warning: node "n": vars.x: a range of 200000 elements`},
		{`join(map(1..int(input), 'x'))`, `a.yaml:5:35: warning: node "n": vars.x: a range whose bounds are computed`},
		{`reduce(1..10, #acc + 1, 0)`, ``},
		{`repeat('-', 10)`, ``},
		{`upper(input) + '!'`, ``},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			flow := "name: f\nnodes:\n  - id: n\n    type: set\n    config: {vars: {x: \"" + tc.expr + "\"}}\ntriggers:\n  - {type: message, target: n}\n"
			_, ds := load(t, Config{Settings: DefaultSettings()}, map[string][]byte{"a.yaml": []byte(flow)}, []string{"a.yaml"})
			got := diagLines(ds)
			if tc.want == "" && got != "" || !strings.HasPrefix(got, tc.want) {
				t.Errorf("diagnostics:\n%s\nwant one starting with:\n%s", got, tc.want)
			}
		})
	}
}

// TestBudgetStopsBuilders: expressions that build far more than their input, from a 2,000
// character text, end the run with a budget entry before they allocate it, and send nothing;
// the next event runs as usual.
func TestBudgetStopsBuilders(t *testing.T) {
	input := strings.Repeat("y", 2000)
	for _, x := range []string{
		`join(map(1..100000, input))`,
		`toJSON(map(1..100000, input))`,
		`replace(replace(input, '', input), '', input)`,
		`repeat(input, 1000000)`,
		`reduce(1..200000, #acc + input, '')`,
		`len(map(1..1000, map(1..1000, 1)))`,
	} {
		t.Run(x, func(t *testing.T) {
			flow := "name: f\nnodes:\n  - {id: n, type: reply, config: {message: \"{{ " + x + " }}\"}}\n" +
				"  - {id: hi, type: reply, config: {message: \"Hello\"}}\n" +
				"triggers:\n  - {type: message, keywords: [hi], target: hi}\n  - {type: message, target: n}\n"
			f, ds := ParseFlow("f.yaml", []byte(flow))
			if ds.HasErrors() {
				t.Fatal(ds)
			}
			s := DefaultSettings()
			s.MaxExprTime = time.Hour // the memory budget alone must stop them
			e, ds := New(Config{Flows: []*Flow{f}, Settings: s})
			if ds.HasErrors() {
				t.Fatal(ds)
			}
			st := &State{}
			ctx := context.Background()
			res := e.Handle(ctx, testConv, st, &msg.Event{Kind: msg.KindText, Text: input, From: user}, time.Unix(1767603600, 0))
			if len(res.Sends) != 0 || !hasKinds(res.Trace, []TraceKind{TraceBudget}) {
				t.Fatalf("%d message(s), trace %v: want none and a budget entry", len(res.Sends), res.Trace)
			}
			res = e.Handle(ctx, testConv, st, &msg.Event{Kind: msg.KindText, Text: "hi", From: user}, time.Unix(1767603601, 0))
			if len(res.Sends) != 1 || res.Sends[0].Message.Text.Body != "Hello" {
				t.Fatalf("next event: sends %+v, trace %v", res.Sends, res.Trace)
			}
		})
	}
}

// TestBudgetInTrigger: a trigger expression that runs out of budget ends the run before any
// node: the default flow does not run in its place.
func TestBudgetInTrigger(t *testing.T) {
	flow := "name: f\nstart: n\nnodes:\n  - {id: n, type: reply, config: {message: \"default\"}}\n" +
		"  - {id: big, type: reply, config: {message: \"big\"}}\n" +
		"triggers:\n  - {type: message, expression: \"len(repeat(input, 1000000)) > 5\", target: big}\n"
	f, ds := ParseFlow("f.yaml", []byte(flow))
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	s := DefaultSettings()
	s.DefaultFlow = "f"
	e, ds := New(Config{Flows: []*Flow{f}, Settings: s})
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	res := e.Handle(context.Background(), testConv, &State{}, &msg.Event{Kind: msg.KindText, Text: strings.Repeat("y", 2000), From: user}, time.Unix(1767603600, 0))
	if len(res.Sends) != 0 || !hasKinds(res.Trace, []TraceKind{TraceBudget}) || hasKinds(res.Trace, []TraceKind{TraceNode}) {
		t.Fatalf("sends %d, trace %v: want no node run and a budget entry", len(res.Sends), res.Trace)
	}
}

// TestBudgetIgnoresAStalledMachine: limits.expr_time stops expressions that run away, not a
// short expression of a normal flow during which the machine stalled (a loaded host, a paused
// VM). With expr_time at 1ns every expression is as late as after a long stall: the normal
// flow still answers, and a runaway loop is still stopped.
func TestBudgetIgnoresAStalledMachine(t *testing.T) {
	flow := "name: f\nstart: n\nnodes:\n" +
		"  - {id: n, type: set, config: {vars: {words: \"len(filter(split(input, ' '), len(#) > 0))\"}}, next: r}\n" +
		"  - {id: r, type: reply, config: {message: \"{{ upper(contact.name) + ', you said ' + input + ' (' + string(vars.words) + ' words)' }}\"}}\n" +
		"  - {id: loop, type: reply, config: {message: \"{{ reduce(1..200000, #acc + 'x', '') }}\"}}\n" +
		"triggers:\n  - {type: message, keywords: [loop], target: loop}\n  - {type: message, target: n}\n"
	f, ds := ParseFlow("f.yaml", []byte(flow))
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	s := DefaultSettings()
	s.MaxExprTime = time.Nanosecond
	e, ds := New(Config{Flows: []*Flow{f}, Settings: s})
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	ctx, now := context.Background(), time.Unix(1767603600, 0)
	ev := &msg.Event{Kind: msg.KindText, Text: "where is my order", From: user, Contact: msg.Contact{ID: user, Name: "Ann"}}
	res := e.Handle(ctx, testConv, &State{}, ev, now)
	if want := "ANN, you said where is my order (4 words)"; len(res.Sends) != 1 || res.Sends[0].Message.Text.Body != want || hasKinds(res.Trace, []TraceKind{TraceBudget}) {
		t.Fatalf("sends %+v, trace %v: want %q and no budget entry", res.Sends, res.Trace, want)
	}
	res = e.Handle(ctx, testConv, &State{}, &msg.Event{Kind: msg.KindText, Text: "loop", From: user}, now)
	if len(res.Sends) != 0 || !hasKinds(res.Trace, []TraceKind{TraceBudget}) {
		t.Fatalf("runaway loop: sends %d, trace %v: want none and a budget entry", len(res.Sends), res.Trace)
	}
}
