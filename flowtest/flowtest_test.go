package flowtest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowgate/flowgate/engine"
	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/providers"
)

// exampleEngine builds the engine of the example flows of flows/ and their templates.
func exampleEngine(t *testing.T) *engine.Engine {
	t.Helper()
	files, err := filepath.Glob("../flows/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example flows: %v", err)
	}
	cfg := engine.Config{Settings: engine.DefaultSettings(), Limits: providers.Registry().Limits()}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var ds engine.Diagnostics
		if filepath.Base(f) == "templates.yaml" {
			cfg.Templates, ds = engine.ParseTemplates(f, data)
		} else {
			var fl *engine.Flow
			fl, ds = engine.ParseFlow(f, data)
			cfg.Flows = append(cfg.Flows, fl)
		}
		if err := ds.Err(); err != nil {
			t.Fatal(err)
		}
	}
	e, ds := engine.New(cfg)
	if err := ds.Err(); err != nil {
		t.Fatal(err)
	}
	return e
}

// TestExampleCases replays every case in testdata/cases against the example flows: the cases
// that ship with Flowgate and seed new bundles must pass. They run in parallel on one engine,
// as gtc serve runs conversations. Between them they must run a node of every type, so that
// each node type has an example in flows/ that a case exercises.
func TestExampleCases(t *testing.T) {
	files, err := FindCases("../testdata/cases")
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Engine: exampleEngine(t), Channels: providers.Registry()}
	var mu sync.Mutex
	ran := map[string]bool{} // node types run
	t.Run("cases", func(t *testing.T) {
		for _, f := range files {
			c, err := LoadCase(f)
			if err != nil {
				t.Fatal(err)
			}
			t.Run(c.Name, func(t *testing.T) {
				t.Parallel()
				r := Run(context.Background(), c, opts)
				if !r.Passed() {
					var b bytes.Buffer
					Print(&b, []*Result{r}, true)
					t.Error(strings.TrimSpace(b.String()))
				}
				mu.Lock()
				defer mu.Unlock()
				for _, s := range r.Steps {
					for _, e := range s.Trace {
						if e.Kind == engine.TraceNode {
							ran[e.Detail] = true
						}
					}
				}
			})
		}
	})
	for _, typ := range engine.NodeTypes() {
		if !ran[typ] {
			t.Errorf("no case in testdata/cases runs a %s node: add an example of it to flows/ and a case that reaches it", typ)
		}
	}
}

// TestSplitTextStatuses: a text longer than WhatsApp's 4096 characters goes out in parts, and
// the status of a later part finds its message (the node that sent it), not an unknown id.
func TestSplitTextStatuses(t *testing.T) {
	f, ds := engine.ParseFlow("long.yaml", []byte(`
name: long
nodes:
  - {id: tell, type: reply, config: {message: "{{story}}"}}
triggers:
  - {type: message, keywords: [story], target: tell}
`))
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	e, ds := engine.New(engine.Config{Flows: []*engine.Flow{f}, Settings: engine.DefaultSettings()})
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	s, err := NewSession(SessionOptions{Engine: e, Provider: providers.Registry().Lookup(msg.WhatsApp), Account: "106540352242922", Contact: "16505551234", Clock: time.Unix(1767603600, 0)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := s.SetVars(ctx, map[string]any{"story": strings.Repeat("Once upon a time. ", 300)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Say(ctx, &SendStep{Text: "story"}); err != nil {
		t.Fatal(err)
	}
	// The fake Graph API numbers accepted messages wamid.flowctl.1, .2, ...: .2 is the second part.
	delivered := `{"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
		"messaging_product": "whatsapp", "metadata": {"phone_number_id": "106540352242922"},
		"statuses": [{"id": "wamid.flowctl.2", "status": "delivered", "timestamp": "1767603700", "recipient_id": "16505551234"}]}}]}]}`
	turn, err := s.Deliver(ctx, []byte(delivered))
	if err != nil {
		t.Fatal(err)
	}
	if len(turn.Trace) != 1 || turn.Trace[0].Kind != engine.TraceStatus || turn.Trace[0].Node != "long/tell" {
		t.Errorf("status of the second part: trace %v", turn.Trace)
	}
}

// TestParseCaseYAMLSyntax: a layout mistake in a case file is reported at its own line.
func TestParseCaseYAMLSyntax(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"mis-indented expect", "name: menu\nsteps:\n  - send: {text: menu}\n    expect:\n      - text: hello\n   - send: {text: help}\n",
			"menu.test.yaml:6:4: error: invalid YAML: did not find expected '-' indicator (this line's indentation does not fit the block it is in)"},
		{"tab", "name: menu\nsteps:\n\t- send: {text: menu}\n",
			"menu.test.yaml:3:1: error: invalid YAML: a tab indents this line; indent with spaces"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCase("menu.test.yaml", []byte(tc.text))
			if err == nil || err.Error() != tc.want {
				t.Errorf("error:\n%v\nwant:\n%s", err, tc.want)
			}
		})
	}
}

// TestAuthenticationTemplateToUserID: an authentication template for a user known only by
// their WhatsApp user id is not sent (Meta refuses it) and the turn says why; once the user's
// phone number is known it goes "to" the phone.
func TestAuthenticationTemplateToUserID(t *testing.T) {
	f, ds := engine.ParseFlow("otp.yaml", []byte(`name: otp
start: send_code
nodes:
  - id: send_code
    type: template
    config:
      name: login_code
      language: en
      components:
        - {type: body, parameters: [{type: text, text: "123456"}]}
        - {type: button, sub_type: url, index: 0, parameters: [{type: text, text: "123456"}]}
`))
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	tpl := engine.Template{Name: "login_code", Language: "en", Category: "authentication", BodyParameters: 1, Buttons: []string{"url"}}
	e, ds := engine.New(engine.Config{Flows: []*engine.Flow{f}, Templates: []engine.Template{tpl}, Settings: engine.DefaultSettings()})
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	const uid = "US.13491208655302741918"
	s, err := NewSession(SessionOptions{Engine: e, Provider: providers.Registry().Lookup(msg.WhatsApp), Account: "106540352242922",
		Contact: uid, Identity: msg.Contact{UserID: uid}, Clock: time.Unix(1767603600, 0)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	turn, err := s.Start(ctx, "otp", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(turn.Sent) != 0 || len(turn.Errors) != 1 || !strings.Contains(turn.Errors[0], `authentication template "login_code" cannot go to a user known only by their business-scoped user id`) {
		t.Fatalf("sent %d, errors %q: want the template refused with the reason", len(turn.Sent), turn.Errors)
	}
	if !traceHas(turn.Trace, engine.TraceError, `send_code: template message not sent: whatsapp: render: authentication template "login_code" cannot go to a user known only by their business-scoped user id`) {
		t.Errorf("trace %q: want the refusal as an error entry of the node", turn.Trace)
	}
	if _, err := s.Say(ctx, &SendStep{Text: "hi", Contact: &ContactValue{Phone: "16505551234", UserID: uid}}); err != nil {
		t.Fatal(err)
	}
	if turn, err = s.Start(ctx, "otp", "", nil); err != nil {
		t.Fatal(err)
	}
	if len(turn.Sent) != 1 || !strings.Contains(string(turn.Sent[0].Request), `"to":"+16505551234"`) {
		t.Errorf("with the phone known: sent %+v, errors %q", turn.Sent, turn.Errors)
	}
}

// traceHas reports whether trace holds an entry of kind k whose line contains text.
func traceHas(trace []engine.TraceEntry, k engine.TraceKind, text string) bool {
	for _, e := range trace {
		if e.Kind == k && strings.Contains(e.String(), text) {
			return true
		}
	}
	return false
}
