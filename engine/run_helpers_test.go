package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/engine/msg"
)

// t0 is the time interpreter tests start at; turns are offsets from it.
var t0 = time.Unix(1750000000, 0)

const user = "16505551234"

// runCase is one interpreter test: flows, a starting state and a sequence of turns.
type runCase struct {
	name    string
	flows   []string
	config  func(*Config) // adjusts settings, HTTP client...; default settings otherwise
	channel string        // whatsapp when empty
	state   State
	turns   []turn
}

// turn is one call into the engine and what it should produce. Exactly one of ev, start, tick
// and refuse is set.
type turn struct {
	at     time.Duration // since t0
	ev     *msg.Event    // Handle; Channel, From, ID, Contact and Time are filled in when empty
	start  string        // Start: "flow" or "flow/node"
	vars   map[string]any
	tick   bool
	refuse int // Refused for the refuse-th send (1-based) of the previous turn

	sends []msg.Message // the messages sent, To filled in
	from  []string      // when set, the flow/node of each send
	trace []TraceKind   // kinds that must appear in the trace, in this order (others may be between)
	wait  string        // flow/node the conversation waits at afterwards, "" for none
	kept  bool          // the event was kept for an agent
	vset  map[string]any
	check func(t *testing.T, st *State, res *Result)
}

var testConv = Conversation{Tenant: "acme", Team: "support", Channel: msg.WhatsApp, Account: "106540352242922", User: user}

func runCases(t *testing.T, cases []runCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t) })
	}
}

func (c runCase) run(t *testing.T) {
	cfg := Config{Settings: DefaultSettings()}
	if c.config != nil {
		c.config(&cfg)
	}
	e := mustEngine(t, cfg, c.flows...)
	conv := testConv
	if c.channel != "" {
		conv.Channel = c.channel
	}
	st := c.state
	st.Vars = cloneVars(c.state.Vars)
	st.Outbox = slices.Clone(c.state.Outbox)
	var prev []Send // the previous turn's sends, and whether a fallback went out in it
	var prevFellBack bool
	sent := 0
	ctx := context.Background()
	for i, tu := range c.turns {
		now := t0.Add(tu.at)
		var res *Result
		what := ""
		switch {
		case tu.ev != nil:
			ev := *tu.ev
			if ev.Channel == "" {
				ev.Channel = conv.Channel
			}
			if ev.From == "" {
				ev.From = user
			}
			if ev.Contact.Name == "" {
				ev.Contact = msg.Contact{ID: user, Name: "Ann", Phone: "+" + user}
			}
			if ev.ID == "" {
				ev.ID = fmt.Sprintf("in.%d", i+1)
			}
			if ev.Time.IsZero() {
				ev.Time = now
			}
			what = fmt.Sprintf("event %s %q", ev.Kind, ev.Text)
			res = e.Handle(ctx, conv, &st, &ev, now)
		case tu.start != "":
			flow, node, _ := strings.Cut(tu.start, "/")
			what = "start " + tu.start
			var err error
			if res, err = e.Start(ctx, conv, &st, flow, node, tu.vars, now); err != nil {
				t.Fatalf("turn %d: %s: %v", i+1, what, err)
			}
		case tu.tick:
			what = "tick"
			res = e.Tick(ctx, conv, &st, now)
		case tu.refuse > 0:
			what = fmt.Sprintf("refused send %d", tu.refuse)
			res = e.Refused(ctx, conv, &st, Refusal{Send: prev[tu.refuse-1], Rest: prev[tu.refuse:], FellBack: prevFellBack}, now)
		default:
			t.Fatalf("turn %d does nothing", i+1)
		}
		tu.verify(t, fmt.Sprintf("turn %d (%s)", i+1, what), &st, res)
		// The host records what the channel accepted and stores the state between events.
		for _, s := range res.Sends {
			sent++
			st.RecordSent(fmt.Sprintf("out.%d", sent), s)
		}
		prev, prevFellBack = res.Sends, res.FellBack
		st = roundTrip(t, &st)
	}
}

func (tu turn) verify(t *testing.T, what string, st *State, res *Result) {
	t.Helper()
	var got, want []string
	for _, s := range res.Sends {
		got = append(got, dump(s.Message))
	}
	for _, m := range tu.sends {
		m.To = user
		want = append(want, dump(m))
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s: sends:\n got: %s\nwant: %s\ntrace:\n%s", what, strings.Join(got, "\n      "), strings.Join(want, "\n      "), traceLines(res))
	}
	if tu.from != nil {
		var from []string
		for _, s := range res.Sends {
			from = append(from, s.Flow+"/"+s.Node)
		}
		if !slices.Equal(from, tu.from) {
			t.Errorf("%s: sends from %v, want %v", what, from, tu.from)
		}
	}
	if !hasKinds(res.Trace, tu.trace) {
		t.Errorf("%s: trace lacks %v in order:\n%s", what, tu.trace, traceLines(res))
	}
	if w := st.Flow + "/" + st.Node; st.Node == "" && tu.wait != "" || st.Node != "" && w != tu.wait {
		t.Errorf("%s: waits at %q, want %q\ntrace:\n%s", what, w, tu.wait, traceLines(res))
	}
	if res.Kept != tu.kept {
		t.Errorf("%s: kept = %v, want %v", what, res.Kept, tu.kept)
	}
	for k, v := range tu.vset {
		if got := st.Vars[k]; !reflect.DeepEqual(got, v) {
			t.Errorf("%s: vars.%s = %#v, want %#v", what, k, got, v)
		}
	}
	if tu.check != nil {
		tu.check(t, st, res)
	}
}

// hasKinds reports whether want appears in the trace's kinds as a subsequence.
func hasKinds(trace []TraceEntry, want []TraceKind) bool {
	i := 0
	for _, e := range trace {
		if i < len(want) && e.Kind == want[i] {
			i++
		}
	}
	return i == len(want)
}

func traceLines(res *Result) string {
	var b strings.Builder
	for _, e := range res.Trace {
		b.WriteString("\t" + e.String() + "\n")
	}
	return b.String()
}

// dump renders a message as JSON without its empty fields, so that differences are readable.
func dump(m msg.Message) string {
	b, err := json.Marshal(m)
	if err != nil {
		return err.Error()
	}
	s := emptyField.ReplaceAllString(string(b), "$1")
	for prev := ""; prev != s; {
		prev, s = s, strings.NewReplacer(",,", ",", "{,", "{", ",}", "}").Replace(s)
	}
	return s
}

var emptyField = regexp.MustCompile(`"\w+":(?:null|""|false|0)([,}])`)

// roundTrip encodes and decodes the state, as the host does between events.
func roundTrip(t *testing.T, st *State) State {
	t.Helper()
	b, err := st.Encode()
	if err != nil {
		t.Fatalf("encode state: %v", err)
	}
	got, err := DecodeState(b)
	if err != nil {
		t.Fatalf("decode state: %v", err)
	}
	return *got
}

func cloneVars(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Inbound events. The runner fills in the envelope.

func textEv(s string) *msg.Event { return &msg.Event{Kind: msg.KindText, Text: s} }

func buttonReply(id, title string) *msg.Event {
	return &msg.Event{Kind: msg.KindButton, Button: &msg.Reply{ID: id, Title: title}}
}

func listReply(id, title string) *msg.Event {
	return &msg.Event{Kind: msg.KindList, List: &msg.ListReply{ID: id, Title: title}}
}

func postback(id string) *msg.Event {
	return &msg.Event{Kind: msg.KindPostback, Button: &msg.Reply{ID: id, Title: id}}
}

func status(id, state string) *msg.Event {
	return &msg.Event{Kind: msg.KindStatus, Status: &msg.Status{MessageID: id, State: state}}
}

// Outbound messages.

func textMsg(s string) msg.Message { return msg.Message{Text: &msg.Text{Body: s}} }

// tmplMsg is a template with only body text parameters.
func tmplMsg(name, lang string, body ...string) msg.Message {
	t := &msg.Template{Name: name, Language: lang}
	if len(body) > 0 {
		c := msg.Component{Type: "body"}
		for _, b := range body {
			c.Parameters = append(c.Parameters, msg.Parameter{Type: "text", Text: b})
		}
		t.Components = []msg.Component{c}
	}
	return msg.Message{Template: t}
}
