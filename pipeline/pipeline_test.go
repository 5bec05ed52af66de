package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/engine"
	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/pipeline"
	"github.com/flowgate/flowgate/store"
)

const flow = `
name: f
window_fallback: {name: reopen, language: en}
nodes:
  - {id: hello, type: reply, config: {message: "hello"}}
triggers:
  - {type: message, keywords: [hi], target: hello}
`

// fakeSender accepts messages, or refuses the first ones with the given errors.
type fakeSender struct {
	refuse []error
	sent   []msg.Message
}

func (f *fakeSender) Send(_ context.Context, m *msg.Message) ([]string, error) {
	if len(f.refuse) > 0 {
		err := f.refuse[0]
		f.refuse = f.refuse[1:]
		return nil, err
	}
	f.sent = append(f.sent, *m)
	return []string{fmt.Sprintf("wamid.%d", len(f.sent))}, nil
}

// parseJSON is a stand-in provider parser: the body is a JSON list of events.
func parseJSON(body []byte) ([]msg.Event, error) {
	var evs []msg.Event
	err := json.Unmarshal(body, &evs)
	return evs, err
}

func setup(t *testing.T, now time.Time) (*pipeline.Pipeline, *pipeline.Channel, *store.Mem, *fakeSender) {
	t.Helper()
	f, ds := engine.ParseFlow("f.yaml", []byte(flow))
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	tpl := engine.Template{Name: "reopen", Language: "en", Category: "utility"}
	e, ds := engine.New(engine.Config{Flows: []*engine.Flow{f}, Templates: []engine.Template{tpl}, Settings: engine.DefaultSettings()})
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	clock := func() time.Time { return now }
	m := store.NewMem(clock)
	p := &pipeline.Pipeline{Engine: e, Store: m, Inbox: m, Now: clock}
	s := &fakeSender{}
	return p, &pipeline.Channel{Name: msg.WhatsApp, Tenant: "acme", Team: "support", Parse: parseJSON, Sender: s}, m, s
}

func TestAcceptDropsDuplicates(t *testing.T) {
	now := time.Unix(1767603600, 0)
	p, ch, m, _ := setup(t, now)
	body, _ := json.Marshal([]msg.Event{
		{Kind: msg.KindText, ID: "wamid.a", From: "1", Account: "9", Text: "hi", Time: now},
		{Kind: msg.KindText, ID: "wamid.b", From: "1", Account: "9", Text: "hi", Time: now},
		{Kind: msg.KindError, Account: "9"}, // no id: never a duplicate
	})
	ctx := context.Background()
	queued, dups, err := p.Accept(ctx, ch, body)
	if err != nil || queued != 3 || dups != 0 {
		t.Fatalf("first delivery: %d queued, %d dups, %v", queued, dups, err)
	}
	items := m.Take()
	if len(items) != 3 || items[0].Event.ID != "wamid.a" || items[0].Tenant != "acme" || items[0].Key != "whatsapp:9:wamid.a" {
		t.Fatalf("inbox %+v", items)
	}
	queued, dups, err = p.Accept(ctx, ch, body)
	if err != nil || queued != 1 || dups != 2 {
		t.Fatalf("redelivery: %d queued, %d dups, %v", queued, dups, err)
	}
	if items := m.Take(); len(items) != 1 || items[0].Event.Kind != msg.KindError {
		t.Fatalf("inbox after redelivery %+v", items)
	}
	if _, _, err := p.Accept(ctx, ch, []byte("{")); err == nil {
		t.Error("unparseable body accepted")
	}
}

// failingInbox is an inbox whose storage is down.
type failingInbox struct{}

func (failingInbox) Add(context.Context, []pipeline.Item, time.Duration) (int, error) {
	return 0, errors.New("connection refused")
}

// TestAcceptInboxDown: when the inbox cannot be written, Accept fails (the server answers 503)
// and nothing is recorded as seen, so Meta's redelivery is accepted whole.
func TestAcceptInboxDown(t *testing.T) {
	now := time.Unix(1767603600, 0)
	p, ch, m, _ := setup(t, now)
	body, _ := json.Marshal([]msg.Event{{Kind: msg.KindText, ID: "wamid.a", From: "1", Account: "9", Text: "hi", Time: now}})
	ctx := context.Background()
	p.Inbox = failingInbox{}
	if _, _, err := p.Accept(ctx, ch, body); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("err = %v", err)
	}
	p.Inbox = m
	if queued, dups, err := p.Accept(ctx, ch, body); err != nil || queued != 1 || dups != 0 {
		t.Fatalf("redelivery: %d queued, %d dups, %v", queued, dups, err)
	}
}

// TestProcessRecordsAndFallsBack: a reply goes out and is recorded in the state; when the
// channel refuses a message because the window closed, the fallback template goes out instead.
func TestProcessRecordsAndFallsBack(t *testing.T) {
	now := time.Unix(1767603600, 0)
	p, ch, _, s := setup(t, now)
	ctx := context.Background()
	ev := msg.Event{Kind: msg.KindText, ID: "wamid.a", From: "1", Account: "9", Text: "hi", Time: now}
	rep, err := p.Process(ctx, ch, &ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.sent) != 1 || s.sent[0].Text == nil || s.sent[0].Text.Body != "hello" || len(rep.Outcomes) != 1 {
		t.Fatalf("sent %+v, outcomes %+v", s.sent, rep.Outcomes)
	}
	st, err := p.State(ctx, rep.Conversation)
	if err != nil || len(st.Outbox) != 1 || st.Outbox[0].ID != "wamid.1" || st.Outbox[0].Node != "hello" {
		t.Fatalf("state %+v, %v", st, err)
	}

	s.refuse = []error{fmt.Errorf("send: %w", msg.ErrWindowClosed)}
	ev.ID = "wamid.b"
	rep, err = p.Process(ctx, ch, &ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Outcomes) != 2 || !errors.Is(rep.Outcomes[0].Err, msg.ErrWindowClosed) || rep.Outcomes[1].Err != nil {
		t.Fatalf("outcomes %+v", rep.Outcomes)
	}
	if got := s.sent[len(s.sent)-1]; got.Template == nil || got.Template.Name != "reopen" {
		t.Fatalf("fallback %+v", got)
	}
}

// TestSendErrorIsReported: a permanent send error is in the report and the state is saved.
func TestSendErrorIsReported(t *testing.T) {
	now := time.Unix(1767603600, 0)
	p, ch, _, s := setup(t, now)
	boom := errors.New("graph error 100")
	s.refuse = []error{boom}
	ev := msg.Event{Kind: msg.KindText, ID: "wamid.a", From: "1", Account: "9", Text: "hi", Time: now}
	rep, err := p.Process(context.Background(), ch, &ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Outcomes) != 1 || !errors.Is(rep.Outcomes[0].Err, boom) || len(s.sent) != 0 {
		t.Fatalf("outcomes %+v", rep.Outcomes)
	}
	st, _ := p.State(context.Background(), rep.Conversation)
	if st.LastMessageTime != now.Unix() {
		t.Errorf("state not saved: %+v", st)
	}
}

// TestProcessWithoutUser: account-level events (template reviews, app errors) belong to no
// conversation; processing them must not load or save a conversation with an empty user.
func TestProcessWithoutUser(t *testing.T) {
	now := time.Unix(1767603600, 0)
	p, ch, _, s := setup(t, now)
	ctx := context.Background()
	for _, ev := range []msg.Event{
		{Kind: msg.KindTemplate, ID: "t1:APPROVED", Account: "9", TemplateStatus: &msg.TemplateStatus{Event: "APPROVED", Name: "reopen"}},
		{Kind: msg.KindError, Account: "9", Errors: []msg.Error{{Code: 131000}}},
	} {
		rep, err := p.Process(ctx, ch, &ev)
		if err != nil {
			t.Fatalf("%s: %v", ev.Kind, err)
		}
		if len(rep.Outcomes) != 0 || len(rep.Trace) == 0 {
			t.Errorf("%s: report %+v", ev.Kind, rep)
		}
	}
	if len(s.sent) != 0 {
		t.Errorf("sent %+v", s.sent)
	}
	convs, err := p.Store.(*store.Mem).Conversations(ctx)
	if err != nil || len(convs) != 0 {
		t.Errorf("conversations saved: %+v, %v", convs, err)
	}
}
