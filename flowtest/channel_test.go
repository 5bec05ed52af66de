package flowtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/flowgate/flowgate/engine"
	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/providers"
	"github.com/flowgate/flowgate/providers/channel"
)

// toy is a channel that is not Meta's at all: JSON webhooks of its own, a JSON send endpoint.
// It is registered beside the build's providers to show that flowtest takes a channel from
// the registry and knows nothing of any.
type toy struct{}

var _ channel.Provider = toy{}

type toyWebhook struct {
	Toy    bool   `json:"toy"`
	From   string `json:"from"`
	ID     string `json:"id"`
	At     int64  `json:"at"`
	Text   string `json:"text,omitempty"`
	Choice string `json:"choice,omitempty"`
}

func (toy) Name() string { return "toy" }
func (toy) Limits() msg.Limits {
	return msg.Limits{Text: 100, Buttons: 2, ButtonTitle: 10, ButtonBody: 100}
}

func (toy) Parse(body []byte) ([]msg.Event, error) {
	var w toyWebhook
	if err := json.Unmarshal(body, &w); err != nil || !w.Toy {
		return nil, errors.New("not a toy webhook")
	}
	ev := msg.Event{Kind: msg.KindText, Channel: "toy", ID: w.ID, From: w.From, Text: w.Text, Time: time.Unix(w.At, 0)}
	if w.Choice != "" {
		ev.Kind, ev.Text, ev.Button = msg.KindButton, "", &msg.Reply{ID: w.Choice, Title: w.Choice}
	}
	return []msg.Event{ev}, nil
}

func (toy) Verify(url.Values, string) (string, bool)       { return "", false }
func (toy) Authenticate(http.Header, []byte, string) error { return nil }
func (toy) Sign(http.Header, []byte, string)               {}
func (toy) Setup() channel.Setup                           { return channel.Setup{Title: "Toy"} }
func (toy) Check(context.Context, *http.Client, channel.Account) error {
	return nil
}

func (toy) WebhookBody(ev *msg.Event) ([]byte, error) {
	w := toyWebhook{Toy: true, From: ev.From, ID: ev.ID, At: ev.Time.Unix(), Text: ev.Text}
	if ev.Button != nil {
		w.Choice = ev.Button.ID
	}
	return json.Marshal(w)
}

func (toy) Accepted(_ []byte, token string) ([]byte, string) {
	return []byte(`{"sent":"toy-` + token + `"}`), "toy-" + token
}

func (toy) NewSender(a channel.Account, o channel.SendOptions) channel.Sender {
	return toySender{a: a, hc: o.HTTPClient}
}

type toySender struct {
	a  channel.Account
	hc *http.Client
}

// Send posts {"to", "text", "choices"} to {base}/messages.
func (s toySender) Send(ctx context.Context, m *msg.Message) ([]string, error) {
	out := map[string]any{"to": m.To}
	switch {
	case m.Text != nil:
		out["text"] = m.Text.Body
	case m.Interactive != nil:
		var ids []string
		for _, b := range m.Interactive.Buttons {
			ids = append(ids, b.ID)
		}
		out["text"], out["choices"] = m.Interactive.Body, ids
	default:
		return nil, fmt.Errorf("toy cannot send %s", m.Type())
	}
	body, _ := json.Marshal(out)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.a.BaseURL+"/messages", bytes.NewReader(body))
	resp, err := s.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var ok struct{ Sent string }
	if err := json.NewDecoder(resp.Body).Decode(&ok); err != nil || ok.Sent == "" {
		return nil, fmt.Errorf("toy: unexpected answer (%d)", resp.StatusCode)
	}
	return []string{ok.Sent}, nil
}

// TestAnotherChannel runs a case on a channel the build does not have: registering its
// provider is all it takes for a flow, a case's channel: key and its send steps to reach it.
func TestAnotherChannel(t *testing.T) {
	reg, err := channel.NewRegistry(append(providers.All(), toy{})...)
	if err != nil {
		t.Fatal(err)
	}
	const flow = `name: pick
channels: [toy]
nodes:
  - id: ask
    type: reply
    config:
      interactive:
        type: button
        body: {text: "Yes or no?"}
        action:
          buttons:
            - {type: reply, reply: {id: "yes", title: "Yes"}}
            - {type: reply, reply: {id: "no", title: "No"}}
  - id: route
    type: branch
    config:
      conditions:
        - {expression: "button.id == 'yes'", next: glad}
      default: sorry
  - {id: glad, type: reply, config: {message: "Glad to hear it on {{ channel }}."}}
  - {id: sorry, type: reply, config: {message: "Sorry."}}
triggers:
  - {type: message, keywords: [hi], target: ask}
  - {type: interactive, target: route}
`
	fl, ds := engine.ParseFlow("pick.yaml", []byte(flow))
	if err := ds.Err(); err != nil {
		t.Fatal(err)
	}
	eng, ds := engine.New(engine.Config{Flows: []*engine.Flow{fl}, Settings: engine.DefaultSettings(), Limits: reg.Limits()})
	if err := ds.Err(); err != nil {
		t.Fatal(err)
	}
	path := writeCase(t, `name: a tap on the toy channel
channel: toy
steps:
  - send: {text: "hi"}
    expect:
      - interactive: {type: button, buttons: ["yes", "no"]}
        request: {text: "Yes or no?", choices: ["yes", "no"]}
  - send: {button: "yes"}
    expect:
      - text: "Glad to hear it on toy."
`)
	c, err := LoadCase(path)
	if err != nil {
		t.Fatal(err)
	}
	res := Run(context.Background(), c, Options{Engine: eng, Channels: reg})
	if !res.Passed() {
		t.Errorf("failed:\n%s", printed(res, true))
	}
}
