package engine

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/engine/msg"
)

// testRun is a run over a state and an event, for rendering texts and evaluating expressions.
func testRun(st *State, ev *msg.Event) *run {
	e := &Engine{settings: DefaultSettings()}
	if ev != nil && ev.Contact == (msg.Contact{}) {
		ev.From, ev.Contact = user, msg.Contact{ID: user, Name: "Ann", Phone: "+" + user}
	}
	return e.newRun(context.Background(), testConv, st, ev, t0)
}

// compileText compiles s as an interpolated string, returning its diagnostics.
func compileText(s string) (text, Diagnostics) {
	var ds Diagnostics
	t := compiler{d: diags{"test.yaml", &ds}}.text(s, nil, "text")
	return t, ds
}

func TestInterpolation(t *testing.T) {
	vars := map[string]any{
		"name": "Ann", "code": "ab12", "n": 42, "big": int64(1) << 40, "half": 4.5, "three": 3.0,
		"yes": true, "nothing": nil, "a": "x", "b": "y",
		"order": map[string]any{"state": "shipped", "items": []any{"tea", "cups"}},
	}
	cases := []struct {
		src, want string
		missing   int // missing_var trace entries
	}{
		{"plain text, no braces", "plain text, no braces", 0},
		{"{{name}}", "Ann", 0},
		{"Hi {{ name }}!", "Hi Ann!", 0},
		{"Hi {{missing}}!", "Hi !", 1},
		{"{{ vars.missing }}", "", 1},
		{"{{nothing}}", "", 0}, // set, to nothing
		{"{{ contact.name }}", "Ann", 0},
		{"{{ upper(vars.code) }}", "AB12", 0},
		{"{{n}}", "42", 0},
		{"{{big}}", "1099511627776", 0},
		{"{{half}}", "4.5", 0},
		{"{{three}}", "3", 0},
		{"{{ vars.half * 2 }}", "9", 0},
		{"{{yes}}", "true", 0},
		{"{{a}}{{b}}", "xy", 0},
		{"{{a}}-{{missing}}-{{b}}", "x--y", 1},
		{"{{ vars.order.state }}", "shipped", 0},
		{"{{ join(vars.order.items, ', ') }}", "tea, cups", 0},
		{"{{channel}} {{tenant}}/{{team}}", "whatsapp acme/support", 0}, // environment names, not vars
		{"{{ input }}", "hello", 0},
		{"{{now}}", "1750000000", 0},
		{"closing }} alone", "closing }} alone", 0},
		{"{{ '{{' }}", "{{", 0},
	}
	for _, c := range cases {
		t.Run(c.src, func(t *testing.T) {
			txt, ds := compileText(c.src)
			if len(ds) > 0 {
				t.Fatalf("compile: %s", diagLines(ds))
			}
			r := testRun(&State{Vars: vars}, textEv("hello"))
			if got := r.render(txt); got != c.want {
				t.Errorf("render = %q, want %q", got, c.want)
			}
			missing := 0
			for _, e := range r.res.Trace {
				if e.Kind == TraceMissingVar {
					missing++
				}
			}
			if missing != c.missing {
				t.Errorf("%d missing_var trace entries, want %d: %v", missing, c.missing, r.res.Trace)
			}
		})
	}
}

func TestInterpolationRuntimeError(t *testing.T) {
	txt, ds := compileText("[{{ vars.order.state }}]")
	if len(ds) > 0 {
		t.Fatal(diagLines(ds))
	}
	r := testRun(&State{Vars: map[string]any{"order": "not a map"}}, nil)
	if got := r.render(txt); got != "[]" {
		t.Errorf("render = %q, want the failed part empty", got)
	}
	if !hasKinds(r.res.Trace, []TraceKind{TraceError}) {
		t.Errorf("no error in the trace: %v", r.res.Trace)
	}
}

func TestInterpolationErrors(t *testing.T) {
	cases := []struct{ src, want string }{
		{"Hello {{ name", "unclosed {{"},
		{"Hello {{ }}", "empty {{ }}"},
		{"{{ contact.nam }}", "contact has no field nam"},
		{"{{ vars.a + }}", "unexpected token"},
		{"{{ a }} and {{ b", "unclosed {{"},
	}
	for _, c := range cases {
		_, ds := compileText(c.src)
		if len(ds) != 1 || !strings.Contains(ds[0].Message, c.want) {
			t.Errorf("%q: diagnostics %v, want one saying %q", c.src, ds, c.want)
		}
	}
}

// TestExpressionEnv checks that every name of the expression environment reads what the event
// and the conversation hold.
func TestExpressionEnv(t *testing.T) {
	ago := func(d time.Duration) int64 { return t0.Add(-d).Unix() }
	cases := []struct {
		expr string
		ev   *msg.Event
		st   State
		want bool
	}{
		{"last_message_time + 86400 > now", textEv("hi"), State{}, true},
		{"last_message_time + 86400 > now", nil, State{LastMessageTime: ago(24 * time.Hour)}, false},
		{"last_message_time + 86400 > now", nil, State{LastMessageTime: ago(23 * time.Hour)}, true},
		{"window_open", nil, State{LastMessageTime: ago(23 * time.Hour)}, true},
		{"window_open", nil, State{LastMessageTime: ago(25 * time.Hour)}, false},
		{"button.id == 'help' && button.title == 'Get Help' && input == 'help'", buttonReply("help", "Get Help"), State{}, true},
		{"list.id == 'r1' && list.title == 'Row' && input == 'r1'", listReply("r1", "Row"), State{}, true},
		{"message.text == 'hi' && message.type == 'text' && message.timestamp == now && message.id == 'in.1'", &msg.Event{Kind: msg.KindText, Text: "hi", ID: "in.1", Time: t0}, State{}, true},
		{"location.latitude > 37 && location.name == 'Home'", &msg.Event{Kind: msg.KindLocation, Location: &msg.Location{Latitude: 37.5, Name: "Home"}}, State{}, true},
		{"media.type == 'image' && media.caption == 'cat' && media.mime_type == 'image/jpeg'", &msg.Event{Kind: msg.KindMedia, Media: &msg.Media{Type: "image", Caption: "cat", MimeType: "image/jpeg"}}, State{}, true},
		{"contact.name == 'Ann' && contact.id == '16505551234' && contact.phone == '+16505551234'", textEv("hi"), State{}, true},
		{"contact.user_id == 'US.1342' && contact.username == 'kfisher' && contact.phone == ''", &msg.Event{Kind: msg.KindText, Text: "hi", Contact: msg.Contact{UserID: "US.1342", Username: "kfisher"}}, State{}, true},
		{"contact.user_id == 'US.1342' && contact.username == 'kfisher' && contact.phone == '16505550000'", nil, State{UserID: "US.1342", Username: "kfisher", Phone: "16505550000"}, true},
		{"contact.phone == '16505550000'", &msg.Event{Kind: msg.KindText, Text: "hi", Contact: msg.Contact{UserID: "US.1342"}}, State{Phone: "16505550000"}, true},
		{"channel == 'whatsapp' && tenant == 'acme' && team == 'support'", nil, State{}, true},
		{"vars.n > 3 && 'n' in vars && !('m' in vars)", nil, State{Vars: map[string]any{"n": 4}}, true},
		{"input matches '^[0-9]+$'", textEv("1042"), State{}, true},
		{"input matches '^[0-9]+$'", textEv("10x"), State{}, false},
		{"vars.n > 3", nil, State{Vars: map[string]any{"n": "four"}}, false}, // a runtime error is false
	}
	for _, c := range cases {
		var ds Diagnostics
		p := compiler{d: diags{"test.yaml", &ds}}.bool(c.expr, nil, "expression")
		if len(ds) > 0 {
			t.Errorf("%s: %s", c.expr, diagLines(ds))
			continue
		}
		st := c.st
		if c.ev != nil && c.ev.Time.IsZero() {
			c.ev.Time = t0
		}
		r := testRun(&st, c.ev)
		if c.ev != nil && st.LastMessageTime == 0 {
			st.LastMessageTime = c.ev.Time.Unix() // as Handle records it
			r.env.LastMessageTime = st.LastMessageTime
		}
		if got := r.evalBool(p, ""); got != c.want {
			t.Errorf("%s = %v, want %v (trace %v)", c.expr, got, c.want, r.res.Trace)
		}
	}
}

func TestExpressionErrors(t *testing.T) {
	cases := []struct{ expr, want string }{
		{"button.idd == 'help'", "button has no field idd"},
		{"button.id + 1 > 'x'", "mismatched types string and int"},
		{"len(input)", "expected bool"},
		{"nope == 1", "unknown name nope"},
		{"button.id ==", "unexpected token"},
	}
	for _, c := range cases {
		var ds Diagnostics
		compiler{d: diags{"test.yaml", &ds}}.bool(c.expr, nil, "expression")
		if len(ds) != 1 || !strings.Contains(ds[0].Message, c.want) {
			t.Errorf("%q: diagnostics %v, want one saying %q", c.expr, ds, c.want)
		}
	}
}

// TestExpressionPositions places expression errors at the offending name, in every scalar
// style, including on later lines of block scalars.
func TestExpressionPositions(t *testing.T) {
	const head = "name: p\nnodes:\n  - id: a\n    type: reply\n    config:\n"
	const tail = "triggers:\n  - {type: any, target: a}\n"
	cases := []struct{ name, config, want string }{
		{"plain", "      message: Hi {{ contact.nam }}\n", "p.yaml:6:30:"},
		{"quoted", "      message: \"Hi {{ contact.nam }}\"\n", "p.yaml:6:31:"},
		{"literal", "      message: |\n        Hi {{ contact.nam }}\n", "p.yaml:7:23:"},
		{"literal second line", "      message: |\n        Hello\n        Hi {{ contact.nam }}\n", "p.yaml:8:23:"},
		{"literal deeper indent", "      message: |\n\n            Hi {{ contact.nam }}\n", "p.yaml:8:27:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := head + c.config + tail
			_, ds := load(t, Config{Settings: DefaultSettings()}, map[string][]byte{"p.yaml": []byte(src)}, []string{"p.yaml"})
			if len(ds) != 1 || !strings.HasPrefix(ds[0].String(), c.want) {
				t.Errorf("diagnostics:\n%swant one at %s", diagLines(ds), c.want)
			}
		})
	}
	const branch = "name: p\nnodes:\n  - id: a\n    type: branch\n    config:\n      conditions:\n        - expression: |\n            true &&\n            contact.nam == ''\n          next: b\n  - {id: b, type: end}\ntriggers:\n  - {type: any, target: a}\n"
	_, ds := load(t, Config{Settings: DefaultSettings()}, map[string][]byte{"p.yaml": []byte(branch)}, []string{"p.yaml"})
	if len(ds) != 1 || !strings.HasPrefix(ds[0].String(), "p.yaml:9:21:") {
		t.Errorf("multi-line condition:\n%swant one at p.yaml:9:21", diagLines(ds))
	}
}
