package engine

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/engine/msg"
)

// varLimitsFlow stores user data three ways: a set node decoding the text as JSON, an input
// node saving the answer, and an http node saving the response.
const varLimitsFlow = `
name: store
nodes:
  - id: decode
    type: set
    config:
      vars: {data: "fromJSON(input)"}
    next: saved
  - id: saved
    type: reply
    config: {message: "saved"}
  - id: ask
    type: reply
    config: {message: "Your note?"}
    next: note
  - id: note
    type: input
    config: {save_as: note}
    next: saved
  - id: lookup
    type: http
    config: {url: "https://api.example.com/x", save_as: answer, on_error: failed}
    next: saved
  - id: failed
    type: reply
    config: {message: "failed"}
triggers:
  - {type: message, keywords: [note], target: ask}
  - {type: message, keywords: [call], target: lookup}
  - {type: message, target: decode}
`

// nested is a JSON value of n lists around 1.
func nested(n int) string { return strings.Repeat("[", n) + "1" + strings.Repeat("]", n) }

// TestVarLimits: a value beyond limits.var_depth or limits.var_bytes fails the node that would
// store it, at its on_error where it has one, and the conversation goes on: the next message,
// STOP included, is handled as usual (every turn's state goes through the codec).
func TestVarLimits(t *testing.T) {
	stop := turn{ev: textEv("STOP"), sends: []msg.Message{textMsg(DefaultSettings().OptOutConfirmation)}}
	deep := &fakeHTTP{resp: &HTTPResponse{Status: 200, Body: map[string]any{"a": mustJSON(t, nested(70))}}}
	cases := []struct {
		name  string
		small bool // limits.var_bytes 100
		http  *fakeHTTP
		turns []turn
		want  string // in the error trace of the first turn; "" for none
	}{
		{name: "JSON of ordinary depth", turns: []turn{{ev: textEv(nested(32)), sends: []msg.Message{textMsg("saved")}}}},
		{name: "JSON nested 70 deep", turns: []turn{{ev: textEv(nested(70)), trace: []TraceKind{TraceError}}, stop},
			want: "vars.data not set: nested more than 64 levels deep, more than the 32 allowed (limits.var_depth)"},
		{name: "JSON nested 33 deep", turns: []turn{{ev: textEv(nested(33)), trace: []TraceKind{TraceError}}, stop},
			want: "vars.data not set: nested 33 levels deep, more than the 32 allowed (limits.var_depth)"},
		{name: "a string over var_bytes", turns: []turn{{ev: textEv(`"` + strings.Repeat("x", 70000) + `"`), trace: []TraceKind{TraceError}}, stop},
			want: "more than the 65536 allowed (limits.var_bytes)"},
		{name: "an answer over var_bytes", small: true, turns: []turn{
			{ev: textEv("note"), sends: []msg.Message{textMsg("Your note?")}, wait: "store/note"},
			{ev: textEv(strings.Repeat("x", 200)), trace: []TraceKind{TraceResume, TraceError}},
			stop,
		}},
		{name: "a response nested 70 deep", http: deep, turns: []turn{{ev: textEv("call"), sends: []msg.Message{textMsg("failed")}, trace: []TraceKind{TraceHTTP, TraceError}}, stop},
			want: "vars.answer not set: nested more than 64 levels deep"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.want != "" {
				c.turns[0].check = func(t *testing.T, st *State, res *Result) {
					if !strings.Contains(traceLines(res), c.want) {
						t.Errorf("trace lacks %q:\n%s", c.want, traceLines(res))
					}
				}
			}
			runCase{name: c.name, flows: []string{varLimitsFlow}, turns: c.turns, config: func(cfg *Config) {
				if c.small {
					cfg.Settings.MaxVarBytes = 100
				}
				if c.http != nil {
					cfg.HTTP = c.http
				}
			}}.run(t)
		})
	}
}

func mustJSON(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}
