package flowtest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/engine"
	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/providers"
)

// hostileFlow answers "hi", echoes "echo ...", and runs an author's costly expressions.
const hostileFlow = `
name: hostile
nodes:
  - {id: hello, type: reply, config: {message: "Hello"}}
  - {id: echo, type: reply, config: {message: "{{input}}"}}
  - {id: grow, type: set, config: {vars: {big: "reduce(1..200000, #acc + 'xxxxxxxxxx', '')"}}}
  - {id: grown, type: reply, config: {message: "grown"}}
  - {id: shout, type: reply, config: {message: "{{ repeat(input, 1000000) }}"}}
triggers:
  - {type: message, keywords: [hi], target: hello}
  - {type: message, keywords: [grow], target: grow}
  - {type: message, pattern: "^echo ", target: echo}
  - {type: message, pattern: "^shout ", target: shout}
`

// hostileSession is a WhatsApp conversation with hostileFlow under settings s.
func hostileSession(t *testing.T, s engine.Settings) *Session {
	t.Helper()
	f, ds := engine.ParseFlow("hostile.yaml", []byte(hostileFlow))
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	e, ds := engine.New(engine.Config{Flows: []*engine.Flow{f}, Settings: s, Limits: providers.Registry().Limits()})
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	sess, err := NewSession(SessionOptions{Engine: e, Provider: providers.Registry().Lookup(msg.WhatsApp), Account: "106540352242922", Contact: "16505551234", Clock: time.Unix(1767603600, 0)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close() })
	return sess
}

func hasTrace(tr []engine.TraceEntry, k engine.TraceKind, detail string) bool {
	for _, e := range tr {
		if e.Kind == k && strings.Contains(e.Detail, detail) {
			return true
		}
	}
	return false
}

// TestExpressionBudget: an expression that would run for seconds or build gigabytes ends its
// run with a budget entry in the trace and sends nothing, and the conversation goes on: the
// next message is answered and STOP still opts out.
func TestExpressionBudget(t *testing.T) {
	slow := engine.DefaultSettings()
	slow.MaxExprTime = time.Nanosecond // every expression is already late at its first step
	patient := engine.DefaultSettings()
	patient.MaxExprTime = time.Hour // only the memory budget can stop it, however loaded the machine
	for _, c := range []struct {
		name     string
		settings engine.Settings
		text     string
		limit    string
	}{
		{"reduce builds a string quadratically", patient, "grow", "limits.expr_memory"},
		{"repeat of a long input", patient, "shout " + strings.Repeat("y", 2000), "limits.expr_memory"},
		{"deadline", slow, "grow", "limits.expr_time"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := hostileSession(t, c.settings)
			ctx := context.Background()
			turn, err := s.Say(ctx, &SendStep{Text: c.text})
			if err != nil {
				t.Fatal(err)
			}
			if len(turn.Sent) != 0 || !hasTrace(turn.Trace, engine.TraceBudget, c.limit) {
				t.Fatalf("%d message(s) sent, trace %v: want none and a budget entry for %s", len(turn.Sent), turn.Trace, c.limit)
			}
			if turn, err = s.Say(ctx, &SendStep{Text: "hi"}); err != nil || len(turn.Sent) != 1 || turn.Sent[0].Message.Text.Body != "Hello" {
				t.Fatalf("next message: %v, sent %+v", err, turn.Sent)
			}
			if turn, err = s.Say(ctx, &SendStep{Text: "STOP"}); err != nil || len(turn.Sent) != 1 || !hasTrace(turn.Trace, engine.TraceOptOut, "") {
				t.Fatalf("STOP: %v, trace %v", err, turn.Trace)
			}
		})
	}
}

// TestLongEchoIsCapped: an echoed input of 64 KB or 1 MiB goes out as at most
// limits.text_parts (4) WhatsApp messages, the last ending with …, instead of 17 or 257.
func TestLongEchoIsCapped(t *testing.T) {
	for _, n := range []int{64 << 10, 1 << 20} {
		s := hostileSession(t, engine.DefaultSettings())
		words := strings.Repeat("lorem ipsum ", n/12)
		turn, err := s.Say(context.Background(), &SendStep{Text: "echo " + words})
		if err != nil {
			t.Fatal(err)
		}
		if len(turn.Sent) != 1 || len(s.graph.bodies) != 4 {
			t.Fatalf("%d bytes: %d message(s), %d Graph API sends; want 1 message in 4 parts", n, len(turn.Sent), len(s.graph.bodies))
		}
		if !hasTrace(turn.Trace, engine.TraceLimit, "limits.value_length") {
			t.Errorf("%d bytes: no limit entry in the trace %v", n, turn.Trace)
		}
		last := string(s.graph.bodies["wamid.flowctl.4"])
		if !strings.Contains(last, "…") {
			t.Errorf("%d bytes: the last part does not end with …: %.80s", n, last)
		}
	}
}
