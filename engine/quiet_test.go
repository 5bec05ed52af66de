package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/engine/msg"
)

// quiet checks the reason Quiet gives for the turn's trace.
func quiet(want string) func(*testing.T, *State, *Result) {
	return func(t *testing.T, _ *State, res *Result) {
		t.Helper()
		if got := Quiet(res.Trace); got != want {
			t.Errorf("Quiet = %q, want %q\ntrace:\n%s", got, want, traceLines(res))
		}
	}
}

// TestQuiet runs events that send nothing, each for a different reason, and checks the line
// that explains it; events that send something have no reason.
func TestQuiet(t *testing.T) {
	const flow = `
name: q
nodes:
  - {id: ask, type: reply, config: {message: "Your code?"}, next: code}
  - id: code
    type: input
    config: {save_as: code, validate: "input matches '^[0-9]+$'", max_attempts: 2}
    next: done
  - {id: done, type: set, config: {vars: {ok: "1"}}}
  - {id: call, type: http, config: {url: "https://api.example.com/x?key=secret"}}
  - {id: direct, type: input, config: {save_as: name, timeout: 1m}}
  - {id: n1, type: set, config: {vars: {n1: "1"}}, next: n2}
  - {id: n2, type: set, config: {vars: {n2: "2"}}, next: n3}
  - {id: n3, type: set, config: {vars: {n3: "3"}}}
  - {id: agent, type: handoff, config: {queue: billing}}
  - id: patient
    type: input
    config: {save_as: x, timeout: 1m, on_timeout: n3}
  - {id: big, type: set, config: {vars: {b: "input + input"}}}
triggers:
  - {type: message, keywords: [code], target: ask}
  - {type: message, keywords: [call], target: call}
  - {type: message, keywords: [name], target: direct}
  - {type: message, keywords: [chain], target: n1}
  - {type: message, keywords: [agent], target: agent}
  - {type: message, keywords: [wait], target: patient}
  - {type: message, pattern: "^big", target: big}
  - {type: interactive, ids: [known], target: ask}
`
	q := []string{flow}
	runCases(t, []runCase{
		{name: "no trigger matched", flows: q, turns: []turn{
			{ev: textEv("hello again"), check: quiet(`no trigger matched "hello again"`)},
			{ev: buttonReply("old", "Old"), check: quiet(`no trigger matched button "old"`)},
			{ev: listReply("row9", "Row"), check: quiet(`no trigger matched list row "row9"`)},
			{ev: &msg.Event{Kind: msg.KindLocation, Location: &msg.Location{}}, check: quiet("no trigger matched a location message")},
		}},
		{name: "not a message", flows: q, turns: []turn{
			{ev: &msg.Event{Kind: msg.KindDeleted, ID: "m.1"}, check: quiet("deleted event: not a message")},
		}},
		{name: "opted out", flows: q, config: func(c *Config) { c.Settings.OptOutConfirmation = "" }, turns: []turn{
			{ev: textEv("STOP"), check: quiet(`opted out ("STOP"); no opt-out confirmation is set`)},
			{ev: textEv("code"), check: quiet("opted out: no flow runs")},
			{ev: textEv("stop"), check: quiet(`opted out already: "stop"`)},
		}},
		{name: "handoff", flows: q, state: State{Handoff: "support"}, turns: []turn{
			{ev: textEv("code"), kept: true, check: quiet("kept for a human agent (handoff to queue support)")},
		}},
		{name: "window closed", flows: q, turns: []turn{
			{start: "q/ask", wait: "q/code", check: quiet("q/ask: text message not sent: window closed and no fallback template")},
		}},
		{name: "invalid answers", flows: q, turns: []turn{
			{ev: textEv("code"), sends: []msg.Message{textMsg("Your code?")}, wait: "q/code", check: quiet("")},
			{ev: textEv("abc"), wait: "q/code", check: quiet(`invalid answer at q/code: attempt 1 of 2: "abc": no retry_message, still waiting`)},
			{ev: textEv("def"), check: quiet(`invalid answer at q/code: attempt 2 of 2: "def": no attempts left and no on_invalid, the run ends`)},
		}},
		{name: "valid answer, the run ends at a set node", flows: q, turns: []turn{
			{ev: textEv("code"), sends: []msg.Message{textMsg("Your code?")}, wait: "q/code"},
			{ev: textEv("42"), check: quiet("the run ended at q/done (set node) without a message")},
		}},
		{name: "an answer the run ends with", flows: q, turns: []turn{
			{ev: textEv("name"), wait: "q/direct", check: quiet("waiting for input at q/direct")},
			{ev: textEv("Ann"), check: quiet(`the run ended after the answer at q/direct: name = "Ann"`)},
		}},
		{name: "input timeout without on_timeout", flows: q, turns: []turn{
			{ev: textEv("name"), wait: "q/direct"},
			{at: 2 * time.Minute, tick: true, check: quiet("input timed out at q/direct: no answer, and no on_timeout: the wait is dropped")},
		}},
		{name: "session expired", flows: q, config: func(c *Config) { c.Settings.SessionTimeout = time.Hour }, turns: []turn{
			{ev: textEv("code"), sends: []msg.Message{textMsg("Your code?")}, wait: "q/code"},
			{at: 2 * time.Hour, tick: true, check: quiet("session expired at q/code: idle since 2025-06-15T15:06:40Z")},
		}},
		{name: "http error, query value redacted", flows: q, turns: []turn{
			{ev: textEv("call"), check: quiet("error at q/call: http GET https://api.example.com/x?key=…: no HTTP client configured")},
		}},
		{name: "a delivery status", flows: q, turns: []turn{
			{ev: status("wamid.gone", msg.StatusRead), check: quiet("a delivery status, not a message: read for unknown message wamid.gone")},
		}},
		{name: "handoff node without a message", flows: q, turns: []turn{
			{ev: textEv("agent"), check: quiet("handed off to a human agent at q/agent (queue billing) without a message")},
			{ev: textEv("hello?"), kept: true, check: quiet("kept for a human agent (handoff to queue billing)")},
		}},
		{name: "timeout that continues at a node that sends nothing", flows: q, turns: []turn{
			{ev: textEv("wait"), wait: "q/patient"},
			{at: 2 * time.Minute, tick: true, check: quiet("input timed out at q/patient: no answer")},
		}},
		{name: "expression budget", flows: q, config: func(c *Config) { c.Settings.MaxExprMemory = 100 }, turns: []turn{
			{ev: textEv("big " + strings.Repeat("y", 100)), check: quiet("q/big: run ended: an expression went over limits.expr_memory (100 bytes built in one event)")},
		}},
		{name: "step limit", flows: q, config: func(c *Config) { c.Settings.MaxSteps = 2 }, turns: []turn{
			{ev: textEv("chain"), check: quiet("step limit reached at q/n2: stopped after 2 steps (max_steps_per_event)")},
		}},
	})
}

// TestQuietTrace: entries of kinds the engine does not know (the host's) explain an event only
// when nothing else does; a send means there is nothing to explain.
func TestQuietTrace(t *testing.T) {
	for _, tc := range []struct {
		name  string
		trace []TraceEntry
		want  string
	}{
		{"empty", nil, ""},
		{"host entry", []TraceEntry{{Kind: "duplicate", Detail: "1 event(s) seen before: dropped"}}, "duplicate: 1 event(s) seen before: dropped"},
		{"engine entry wins", []TraceEntry{{Kind: "stale", Detail: "dropped"}, {Kind: TraceIgnored, Detail: `no trigger matched "x"`}}, `no trigger matched "x"`},
		{"sent", []TraceEntry{{Kind: TraceIgnored, Detail: "no trigger matched"}, {Kind: TraceSend, Node: "a/b", Detail: "text"}}, ""},
		{"one line", []TraceEntry{{Kind: TraceIgnored, Detail: "no trigger matched \"a\nb\""}}, `no trigger matched "a\nb"`},
	} {
		if got := Quiet(tc.trace); got != tc.want {
			t.Errorf("%s: Quiet = %q, want %q", tc.name, got, tc.want)
		}
	}
}
