package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"strings"
	"sync"
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
  - id: count
    type: set
    config: {vars: {n: "(vars.n ?? 0) + 1"}}
    next: say_count
  - {id: say_count, type: reply, config: {message: "{{ message.text }} {{ vars.n }}"}}
  - {id: ask, type: reply, config: {message: "name?"}, next: wait}
  - id: wait
    type: input
    config: {save_as: name, timeout: 1m, on_timeout: late}
    next: hello
  - {id: late, type: reply, config: {message: "too late"}}
  - {id: one, type: reply, config: {message: "one"}, next: two}
  - {id: two, type: reply, config: {message: "two"}, next: three}
  - {id: three, type: reply, config: {message: "three"}}
  - id: lookup
    type: http
    config: {method: GET, url: "https://api.example.com/x", save_as: r, on_error: hello}
    next: hello
triggers:
  - {type: message, keywords: [hi], target: hello}
  - {type: message, keywords: [count], target: one}
  - {type: message, keywords: [lookup], target: lookup}
  - {type: message, keywords: [three], target: one}
  - {type: message, keywords: [ask], target: ask}
  - {type: message, pattern: "^n", target: count}
`

// fakeSender accepts messages, or refuses the first ones with the given errors. It is safe
// for concurrent use.
type fakeSender struct {
	mu     sync.Mutex
	refuse []error
	sent   []msg.Message
	// onSend, when set, runs before each send (to block, or to kill the worker).
	onSend func(n int)
	ids    int // ids per message, when more than one
}

func (f *fakeSender) Send(_ context.Context, m *msg.Message) ([]string, error) {
	f.mu.Lock()
	n := len(f.sent)
	hook := f.onSend
	f.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.refuse) > 0 {
		err := f.refuse[0]
		f.refuse = f.refuse[1:]
		return nil, err
	}
	f.sent = append(f.sent, *m)
	if f.ids > 1 { // a text sent in parts
		ids := make([]string, f.ids)
		for i := range ids {
			ids[i] = fmt.Sprintf("wamid.%d.%d", len(f.sent), i+1)
		}
		return ids, nil
	}
	return []string{fmt.Sprintf("wamid.%d", len(f.sent))}, nil
}

func (f *fakeSender) texts() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, m := range f.sent {
		switch {
		case m.Text != nil:
			out = append(out, m.Text.Body)
		case m.Template != nil:
			out = append(out, "template "+m.Template.Name)
		}
	}
	return out
}

// parseJSON is a stand-in provider parser: the body is a JSON list of events.
func parseJSON(body []byte) ([]msg.Event, error) {
	var evs []msg.Event
	err := json.Unmarshal(body, &evs)
	return evs, err
}

// httpFunc answers the flow's http node.
type httpFunc func() (*engine.HTTPResponse, error)

func (f httpFunc) Do(context.Context, *engine.HTTPRequest) (*engine.HTTPResponse, error) { return f() }

type fixture struct {
	p     *pipeline.Pipeline
	ch    *pipeline.Channel
	st    store.Store
	s     *fakeSender
	now   time.Time
	mu    sync.Mutex
	clock func() time.Time
}

func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

func setup(t *testing.T, http engine.HTTPClient) *fixture {
	t.Helper()
	fl, ds := engine.ParseFlow("f.yaml", []byte(flow))
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	tpl := engine.Template{Name: "reopen", Language: "en", Category: "utility"}
	e, ds := engine.New(engine.Config{Flows: []*engine.Flow{fl}, Templates: []engine.Template{tpl}, Settings: engine.DefaultSettings(), HTTP: http})
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	f := &fixture{now: time.Unix(1767603600, 0), s: &fakeSender{}}
	f.clock = func() time.Time {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.now
	}
	st, closeStore, err := store.NewEmbedded(store.EmbeddedOptions{Now: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeStore() })
	f.st = st
	f.ch = &pipeline.Channel{Name: msg.WhatsApp, Tenant: "acme", Team: "support", Account: "9", Parse: parseJSON, Sender: f.s}
	f.p = pipeline.New(st, &pipeline.Bundle{Engine: e, Channels: []*pipeline.Channel{f.ch}})
	f.p.Now = f.clock
	f.p.Lease = 10 * time.Second
	return f
}

func (f *fixture) body(t *testing.T, evs ...msg.Event) []byte {
	t.Helper()
	for i := range evs {
		if evs[i].Kind == "" {
			evs[i].Kind = msg.KindText
		}
		if evs[i].Account == "" {
			evs[i].Account = "9"
		}
		if evs[i].Time.IsZero() {
			evs[i].Time = f.now
		}
	}
	b, err := json.Marshal(evs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (f *fixture) accept(t *testing.T, body []byte) (queued, dups int) {
	t.Helper()
	acc, err := f.p.Accept(context.Background(), f.ch, body)
	if err != nil {
		t.Fatal(err)
	}
	return acc.Queued, acc.Duplicates
}

func (f *fixture) drain(t *testing.T) []*pipeline.Report {
	t.Helper()
	reps, err := f.p.Drain(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return reps
}

func equal(a, b []string) bool { return strings.Join(a, "\x00") == strings.Join(b, "\x00") }

func TestAcceptDropsDuplicates(t *testing.T) {
	f := setup(t, nil)
	body := f.body(t,
		msg.Event{ID: "wamid.a", From: "1", Text: "hi"},
		msg.Event{ID: "wamid.b", From: "1", Text: "hi"},
		msg.Event{Kind: msg.KindError}, // for no user: never queued
	)
	if q, d := f.accept(t, body); q != 2 || d != 0 {
		t.Fatalf("first delivery: %d queued, %d dups", q, d)
	}
	if q, d := f.accept(t, body); q != 0 || d != 2 {
		t.Fatalf("redelivery: %d queued, %d dups", q, d)
	}
	f.drain(t)
	if got := f.s.texts(); !equal(got, []string{"hello", "hello"}) {
		t.Fatalf("sent %q", got)
	}
	if _, err := f.p.Accept(context.Background(), f.ch, []byte("{")); !errors.Is(err, pipeline.ErrParse) {
		t.Errorf("unparseable body: err %v, want ErrParse", err)
	}
}

// TestAcceptDropsOtherAccounts: an event naming another business account than the channel's
// (another tenant's phone number on the same Meta app) is dropped and counted, never queued,
// while the body's events for the channel's own account go through.
func TestAcceptDropsOtherAccounts(t *testing.T) {
	f := setup(t, nil)
	body := f.body(t,
		msg.Event{ID: "wamid.a", From: "1", Text: "hi", Account: "10"},
		msg.Event{ID: "wamid.b", From: "2", Text: "hi"},
		msg.Event{Kind: msg.KindError, Account: "10"},
	)
	acc, err := f.p.Accept(context.Background(), f.ch, body)
	if err != nil {
		t.Fatal(err)
	}
	if want := (pipeline.Accepted{Queued: 1, Foreign: 2}); acc != want {
		t.Fatalf("accepted %+v, want %+v", acc, want)
	}
	reps := f.drain(t)
	if len(reps) != 1 || reps[0].Conversation.User != "2" || reps[0].Conversation.Account != "9" {
		t.Fatalf("reports %+v, want one for user 2 on account 9", reps)
	}
}

// TestAcceptRoutesOtherAccounts: where one bundle serves several tenants on the same Meta app,
// an event for another tenant's account is queued for that tenant and answered through its
// channel; one for an account only a channel on another app serves, or none, is dropped.
func TestAcceptRoutesOtherAccounts(t *testing.T) {
	f := setup(t, nil)
	f.ch.App = "app-1"
	globex := &pipeline.Channel{Name: msg.WhatsApp, Tenant: "globex", Team: "sales", Account: "10", App: "app-1", Parse: parseJSON, Sender: &fakeSender{}}
	initech := &pipeline.Channel{Name: msg.WhatsApp, Tenant: "initech", Team: "ops", Account: "11", App: "app-2", Parse: parseJSON, Sender: &fakeSender{}}
	f.p.SetBundle(&pipeline.Bundle{Engine: f.p.Bundle().Engine, Channels: []*pipeline.Channel{f.ch, globex, initech}})
	body := f.body(t,
		msg.Event{ID: "wamid.a", From: "1", Text: "hi", Account: "10"},
		msg.Event{ID: "wamid.b", From: "2", Text: "hi", Account: "11"},
		msg.Event{ID: "wamid.c", From: "3", Text: "hi", Account: "12"},
		msg.Event{ID: "wamid.d", From: "4", Text: "hi"},
	)
	acc, err := f.p.Accept(context.Background(), f.ch, body)
	if err != nil {
		t.Fatal(err)
	}
	if want := (pipeline.Accepted{Queued: 2, Routed: 1, Foreign: 2}); acc != want {
		t.Fatalf("accepted %+v, want %+v", acc, want)
	}
	convs := map[string]string{}
	for _, r := range f.drain(t) {
		c := r.Conversation
		convs[c.User] = c.Tenant + "/" + c.Team + "/" + c.Account
	}
	if want := map[string]string{"1": "globex/sales/10", "4": "acme/support/9"}; !maps.Equal(convs, want) {
		t.Errorf("conversations %v, want %v", convs, want)
	}
	if got := globex.Sender.(*fakeSender).texts(); !equal(got, []string{"hello"}) {
		t.Errorf("globex's channel sent %q, want the routed event's answer", got)
	}
	if got := f.s.texts(); !equal(got, []string{"hello"}) {
		t.Errorf("acme's channel sent %q, want only its own user's answer", got)
	}
}

// TestAcceptDropsReplays: a signed body captured and posted again after DedupTTL, when its
// message ids are forgotten, is dropped as stale rather than processed again; a message just
// within DedupTTL still goes through.
func TestAcceptDropsReplays(t *testing.T) {
	f := setup(t, nil)
	ttl := 168 * time.Hour
	body := f.body(t,
		msg.Event{ID: "wamid.old", From: "1", Text: "hi", Time: f.now.Add(-ttl - time.Second)},
		msg.Event{ID: "wamid.recent", From: "2", Text: "hi", Time: f.now.Add(-ttl)},
	)
	acc, err := f.p.Accept(context.Background(), f.ch, body)
	if err != nil {
		t.Fatal(err)
	}
	if want := (pipeline.Accepted{Queued: 1, Stale: 1}); acc != want {
		t.Fatalf("accepted %+v, want %+v", acc, want)
	}
	if reps := f.drain(t); len(reps) != 1 || reps[0].Conversation.User != "2" {
		t.Fatalf("reports %+v, want one for user 2", reps)
	}
}

// downStore is a store whose writes fail, as when Redis is down.
type downStore struct{ store.Store }

func (downStore) Enqueue(context.Context, []store.Item, time.Duration, time.Time) ([]bool, error) {
	return nil, errors.New("connection refused")
}

// TestAcceptStoreDown: when the queue cannot be written Accept fails with an error that is not
// ErrParse (the server answers 503) and nothing is recorded as seen, so Meta's redelivery is
// accepted whole.
func TestAcceptStoreDown(t *testing.T) {
	f := setup(t, nil)
	body := f.body(t, msg.Event{ID: "wamid.a", From: "1", Text: "hi"})
	real := f.p.Store
	f.p.Store = downStore{real}
	_, err := f.p.Accept(context.Background(), f.ch, body)
	if err == nil || errors.Is(err, pipeline.ErrParse) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("err = %v", err)
	}
	f.p.Store = real
	if q, d := f.accept(t, body); q != 1 || d != 0 {
		t.Fatalf("redelivery: %d queued, %d dups", q, d)
	}
}

// TestProcessRecordsAndFallsBack: a reply goes out and its id is recorded in the state; when the
// channel refuses a message because the window closed, the fallback template goes out instead.
func TestProcessRecordsAndFallsBack(t *testing.T) {
	f := setup(t, nil)
	f.accept(t, f.body(t, msg.Event{ID: "wamid.a", From: "1", Text: "hi"}))
	reps := f.drain(t)
	if len(reps) != 1 || len(reps[0].Outcomes) != 1 || reps[0].Outcomes[0].IDs[0] != "wamid.1" {
		t.Fatalf("reports %+v", reps)
	}
	st, err := f.p.State(context.Background(), reps[0].Conversation)
	if err != nil || len(st.Outbox) != 1 || st.Outbox[0].ID != "wamid.1" || st.Outbox[0].Node != "hello" {
		t.Fatalf("state %+v, %v", st, err)
	}

	f.s.refuse = []error{fmt.Errorf("send: %w", msg.ErrWindowClosed)}
	f.accept(t, f.body(t, msg.Event{ID: "wamid.b", From: "1", Text: "hi"}))
	reps = f.drain(t)
	if len(reps) != 1 || len(reps[0].Outcomes) != 2 || !errors.Is(reps[0].Outcomes[0].Err, msg.ErrWindowClosed) || reps[0].Outcomes[1].Err != nil {
		t.Fatalf("outcomes %+v", reps[0].Outcomes)
	}
	if got := f.s.texts(); !equal(got, []string{"hello", "template reopen"}) {
		t.Fatalf("sent %q", got)
	}
}

// TestRefusalSendsOneFallbackAndHoldsTheRest: when the channel refuses the first of three
// texts because the window closed, one fallback template goes out for the event, the other two
// texts are not sent (they would be refused too, each answered by another template) but held,
// and the user's next message gets them before its own answer.
func TestRefusalSendsOneFallbackAndHoldsTheRest(t *testing.T) {
	f := setup(t, nil)
	f.s.refuse = []error{fmt.Errorf("send: %w", msg.ErrWindowClosed)}
	f.accept(t, f.body(t, msg.Event{ID: "wamid.a", From: "1", Text: "count"}))
	reps := f.drain(t)
	if got := f.s.texts(); !equal(got, []string{"template reopen"}) {
		t.Fatalf("sent %q, want one fallback", got)
	}
	var closed int
	for _, e := range reps[0].Trace {
		if e.Kind == engine.TraceWindowClosed {
			closed++
		}
	}
	if closed != 2 {
		t.Errorf("%d window_closed entries, want 2 (one per held text): %v", closed, reps[0].Trace)
	}
	f.advance(time.Minute)
	f.accept(t, f.body(t, msg.Event{ID: "wamid.b", From: "1", Text: "hi"}))
	f.drain(t)
	if got := f.s.texts(); !equal(got, []string{"template reopen", "two", "three", "hello"}) {
		t.Fatalf("sent %q", got)
	}
}

// TestSplitTextRecordsEveryPart: a text the channel sends in several parts has the id of each
// part recorded, so that the status of any part finds its message.
func TestSplitTextRecordsEveryPart(t *testing.T) {
	f := setup(t, nil)
	f.s.ids = 3
	f.accept(t, f.body(t, msg.Event{ID: "wamid.a", From: "1", Text: "hi"}))
	reps := f.drain(t)
	if len(reps) != 1 || len(reps[0].Outcomes) != 1 || len(reps[0].Outcomes[0].IDs) != 3 {
		t.Fatalf("reports %+v", reps)
	}
	f.accept(t, f.body(t, msg.Event{Kind: msg.KindStatus, ID: "s.1", From: "1", Status: &msg.Status{MessageID: "wamid.1.3", State: msg.StatusRead}}))
	reps = f.drain(t)
	if tr := reps[0].Trace; len(tr) != 1 || tr[0].Kind != engine.TraceStatus || tr[0].Node != "f/hello" {
		t.Errorf("status of the third part: trace %v", tr)
	}
}

// TestSendErrorIsReported: a permanent send error is in the report and the state is saved.
func TestSendErrorIsReported(t *testing.T) {
	f := setup(t, nil)
	boom := errors.New("graph error 100")
	f.s.refuse = []error{boom}
	f.accept(t, f.body(t, msg.Event{ID: "wamid.a", From: "1", Text: "hi"}))
	reps := f.drain(t)
	if len(reps) != 1 || len(reps[0].Outcomes) != 1 || !errors.Is(reps[0].Outcomes[0].Err, boom) {
		t.Fatalf("reports %+v", reps)
	}
	st, _ := f.p.State(context.Background(), reps[0].Conversation)
	if st.LastMessageTime != f.now.Unix() {
		t.Errorf("state not saved: %+v", st)
	}
}

// TestWorkersKeepOrder: many workers on few conversations never run two events of one
// conversation at once: every event is answered once, in order, and no update is lost.
func TestWorkersKeepOrder(t *testing.T) {
	f := setup(t, nil)
	const users, per = 5, 20
	for i := range per {
		var evs []msg.Event
		for u := range users {
			evs = append(evs, msg.Event{ID: fmt.Sprintf("w.%d.%d", u, i), From: fmt.Sprint(u), Text: fmt.Sprintf("n%d", i)})
		}
		f.accept(t, f.body(t, evs...))
	}
	var mu sync.Mutex
	got := map[string][]string{}
	f.p.OnReport = func(r *pipeline.Report) {
		mu.Lock()
		defer mu.Unlock()
		for _, o := range r.Outcomes {
			got[r.Conversation.User] = append(got[r.Conversation.User], o.Send.Message.Text.Body)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.p.Run(ctx, 8); close(done) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := 0
		for _, v := range got {
			n += len(v)
		}
		mu.Unlock()
		if n >= users*per || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	for u := range users {
		var want []string
		for i := range per {
			want = append(want, fmt.Sprintf("n%d %d", i, i+1))
		}
		if g := got[fmt.Sprint(u)]; !equal(g, want) {
			t.Errorf("user %d got %q\nwant %q", u, g, want)
		}
	}
}

// killWorker makes the calling worker goroutine die where it stands, as a killed process
// would: no commit, no done, its lease left to expire.
func killWorker() { runtime.Goexit() }

// drainDying runs Drain in a goroutine that may die (killWorker) and waits for it.
func drainDying(f *fixture) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.p.Drain(context.Background())
	}()
	<-done
}

// TestWorkerDiesAfterCommit: a worker that dies after committing its replies and before
// recording them leaves the outbox; after its lease expires the reply is sent from it once,
// without running the flow again, and counted as a possible duplicate.
func TestWorkerDiesAfterCommit(t *testing.T) {
	f := setup(t, nil)
	f.s.onSend = func(n int) {
		if n == 0 {
			f.s.onSend = nil
			killWorker()
		}
	}
	f.accept(t, f.body(t, msg.Event{ID: "wamid.a", From: "1", Text: "n"}))
	drainDying(f)
	if got := f.s.texts(); len(got) != 0 {
		t.Fatalf("sent before the crash: %q", got)
	}
	if reps := f.drain(t); len(reps) != 0 {
		t.Fatalf("claimed under a live lease: %+v", reps)
	}
	f.advance(11 * time.Second)
	reps := f.drain(t)
	if len(reps) != 1 || reps[0].Kind != store.KindOutbox || reps[0].Resent != 1 {
		t.Fatalf("recovery reports %+v", reps)
	}
	if got := f.s.texts(); !equal(got, []string{"n 1"}) {
		t.Fatalf("sent %q, want the committed reply once", got)
	}
	st, _ := f.p.State(context.Background(), reps[0].Conversation)
	if st.Vars["n"] != 1 || len(st.Outbox) != 1 {
		t.Errorf("state after recovery: vars %v, outbox %+v", st.Vars, st.Outbox)
	}
}

// TestWorkerDiesBeforeCommit: a worker that dies before committing (here, waiting on an
// http node) leaves the event queued; after its lease expires it is processed again from the
// state it had, and answered once.
func TestWorkerDiesBeforeCommit(t *testing.T) {
	calls := 0
	f := setup(t, httpFunc(func() (*engine.HTTPResponse, error) {
		calls++
		if calls == 1 {
			killWorker()
		}
		return &engine.HTTPResponse{Status: 200, Body: map[string]any{}}, nil
	}))
	f.accept(t, f.body(t, msg.Event{ID: "wamid.a", From: "1", Text: "lookup"}))
	drainDying(f)
	f.advance(11 * time.Second)
	reps := f.drain(t)
	if len(reps) != 1 || reps[0].Kind != store.KindEvent {
		t.Fatalf("recovery reports %+v", reps)
	}
	if got := f.s.texts(); !equal(got, []string{"hello"}) || calls != 2 {
		t.Fatalf("sent %q after %d http calls", got, calls)
	}
}

// failCommit is a store whose commits fail the given number of times, as when Redis drops
// the connection or is restarting.
type failCommit struct {
	store.Store
	mu    sync.Mutex
	fails int
}

func (s *failCommit) Commit(ctx context.Context, c *store.Claim, cm *store.Commit, now time.Time, lease time.Duration) error {
	s.mu.Lock()
	fail := s.fails > 0
	s.fails--
	s.mu.Unlock()
	if fail {
		return errors.New("connection reset")
	}
	return s.Store.Commit(ctx, c, cm, now, lease)
}

// TestCommitRetried: a commit that fails once is retried (it is fenced and idempotent), and
// the reply goes out at once.
func TestCommitRetried(t *testing.T) {
	f := setup(t, nil)
	f.p.Store = &failCommit{Store: f.p.Store, fails: 1}
	f.accept(t, f.body(t, msg.Event{ID: "wamid.a", From: "1", Text: "hi"}))
	reps := f.drain(t)
	if len(reps) != 1 || reps[0].Err != nil || !equal(f.s.texts(), []string{"hello"}) {
		t.Fatalf("reports %+v, sent %q", reps, f.s.texts())
	}
}

// TestCommitFailsNothingSent: when the commit keeps failing nothing is sent; the event is
// processed again when its lease expires and answered once, and Meta's redelivery meanwhile
// is a duplicate.
func TestCommitFailsNothingSent(t *testing.T) {
	f := setup(t, nil)
	f.p.Lease = 300 * time.Millisecond // the retries stop at half the lease
	f.p.Store = &failCommit{Store: f.p.Store, fails: 1000}
	body := f.body(t, msg.Event{ID: "wamid.a", From: "1", Text: "hi"})
	f.accept(t, body)
	reps := f.drain(t)
	if len(reps) != 1 || reps[0].Err == nil || len(f.s.texts()) != 0 {
		t.Fatalf("reports %+v, sent %q", reps, f.s.texts())
	}
	if _, d := f.accept(t, body); d != 1 {
		t.Fatal("redelivery not a duplicate")
	}
	f.p.Store.(*failCommit).fails = 0
	f.advance(time.Second)
	f.drain(t)
	if got := f.s.texts(); !equal(got, []string{"hello"}) {
		t.Fatalf("sent %q", got)
	}
}

// TestConcurrentRedelivery: the same webhook posted many times at the same instant is queued
// once and answered once.
func TestConcurrentRedelivery(t *testing.T) {
	f := setup(t, nil)
	body := f.body(t, msg.Event{ID: "wamid.same", From: "1", Text: "hi"})
	var wg sync.WaitGroup
	var mu sync.Mutex
	queued := 0
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			acc, err := f.p.Accept(context.Background(), f.ch, body)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			queued += acc.Queued
			mu.Unlock()
		}()
	}
	wg.Wait()
	f.drain(t)
	if got := f.s.texts(); queued != 1 || !equal(got, []string{"hello"}) {
		t.Fatalf("%d queued, sent %q", queued, got)
	}
}

// TestPanicDropsEvent: a panic while processing an event is recovered, the event dropped and
// reported, and the conversation goes on with its next event.
func TestPanicDropsEvent(t *testing.T) {
	f := setup(t, nil)
	f.s.onSend = func(n int) {
		if n == 0 {
			f.s.onSend = nil
			panic("boom")
		}
	}
	f.accept(t, f.body(t, msg.Event{ID: "wamid.a", From: "1", Text: "hi"}, msg.Event{ID: "wamid.b", From: "1", Text: "n"}))
	reps := f.drain(t)
	if len(reps) != 2 || !strings.Contains(reps[0].Dropped, "boom") {
		t.Fatalf("reports %+v", reps)
	}
	if got := f.s.texts(); !equal(got, []string{"n 1"}) {
		t.Fatalf("sent %q", got)
	}
}

// TestStartReplyRelease: the API's calls run in turn with the conversation's events.
func TestStartReplyRelease(t *testing.T) {
	f := setup(t, nil)
	ctx := context.Background()
	if _, err := f.p.Start(ctx, f.ch, "1", "f", "hello", map[string]any{"a": "b"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.p.Start(ctx, f.ch, "1", "nope", "", nil); err == nil {
		t.Error("start of an unknown flow succeeded")
	}
	// Outside the window (no message from the user yet) an agent's text is replaced by the
	// flow-less bundle fallback: there is none here, so nothing goes out.
	rep, err := f.p.Reply(ctx, f.ch, "1", msg.Message{Text: &msg.Text{Body: "agent here"}})
	if err != nil || len(rep.Outcomes) != 0 {
		t.Fatalf("reply outside the window: %+v, %v", rep, err)
	}
	f.accept(t, f.body(t, msg.Event{ID: "wamid.a", From: "1", Text: "hello there"}))
	f.drain(t)
	if _, err := f.p.Reply(ctx, f.ch, "1", msg.Message{Text: &msg.Text{Body: "agent here"}}); err != nil {
		t.Fatal(err)
	}
	// The start came before any message from the user: outside the window, so the flow's
	// window_fallback stood in for "hello".
	if got := f.s.texts(); !equal(got, []string{"template reopen", "agent here"}) {
		t.Fatalf("sent %q", got)
	}
}

// TestUnreadableStateStartsOver: a conversation whose stored state cannot be read (a newer
// version left by a release that was rolled back, a value cut short) starts over on a new
// state: the event is still answered, and the report says what happened, so that the next
// events find a state they can read.
func TestUnreadableStateStartsOver(t *testing.T) {
	good, err := (&engine.State{Vars: map[string]any{"n": 1}}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		state []byte
	}{
		{"newer version", append([]byte{9}, good[1:]...)},
		{"truncated", good[:len(good)-2]},
		{"garbage", []byte("not a state")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t, nil)
			conv := engine.Conversation{Tenant: "acme", Team: "support", Channel: msg.WhatsApp, Account: "9", User: "1"}
			ctx := context.Background()
			c, err := f.st.ClaimConversation(ctx, conv, f.now, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.st.Commit(ctx, c, &store.Commit{State: tc.state, StateTTL: time.Hour}, f.now, time.Minute); err != nil {
				t.Fatal(err)
			}
			for i, text := range []string{"hi", "n"} {
				f.accept(t, f.body(t, msg.Event{ID: fmt.Sprintf("wamid.%d", i), From: "1", Text: text}))
				reps := f.drain(t)
				if len(reps) != 1 || reps[0].Err != nil || reps[0].StateReset != (i == 0) {
					t.Fatalf("event %d: reports %+v", i, reps)
				}
				if i == 0 && (reps[0].Trace[0].Kind != engine.TraceStateReset || !strings.Contains(reps[0].Trace[0].Detail, "decode state")) {
					t.Errorf("trace %v", reps[0].Trace)
				}
			}
			if got := f.s.texts(); !equal(got, []string{"hello", "n 1"}) {
				t.Errorf("sent %q, want the answers of a new conversation", got)
			}
		})
	}
}

// TestOffsetMovesOneConversationsClock: a conversation whose clock runs 25 hours ahead (the
// sandbox's advance) meets the closed window while another one, on the real clock, does not;
// its input timeout still fires one minute later on the store's clock.
func TestOffsetMovesOneConversationsClock(t *testing.T) {
	f := setup(t, nil)
	ctx := context.Background()
	ahead := map[string]time.Duration{}
	f.p.Offset = func(c engine.Conversation) time.Duration { return ahead[c.User] }
	// Both users write now; then the first one's clock moves 25 hours on.
	f.accept(t, f.body(t, msg.Event{ID: "wamid.1", From: "late", Text: "hi"}, msg.Event{ID: "wamid.2", From: "now", Text: "hi"}))
	ahead["late"] = 0
	f.drain(t)
	ahead["late"] = 25 * time.Hour
	for _, user := range []string{"late", "now"} {
		if _, err := f.p.Start(ctx, f.ch, user, "f", "hello", nil); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.s.texts(); !equal(got, []string{"hello", "hello", "template reopen", "hello"}) {
		t.Fatalf("sent %q; want the conversation 25h ahead to get the fallback template", got)
	}

	// Its message is written at its own time; the input's one-minute timeout is kept on the
	// store's clock, so it fires a real minute later.
	f.accept(t, f.body(t, msg.Event{ID: "wamid.3", From: "late", Text: "ask", Time: f.now.Add(25 * time.Hour)}))
	f.drain(t)
	f.advance(61 * time.Second)
	f.drain(t)
	if got := f.s.texts(); !equal(got[4:], []string{"name?", "too late"}) {
		t.Fatalf("sent %q after ask and a minute; want name? and too late", got[4:])
	}
}

// sentMessages returns the messages accepted so far.
func (f *fakeSender) sentMessages() []msg.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]msg.Message(nil), f.sent...)
}
