package pipeline_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/flowgate/flowgate/engine"
	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/internal/redistest"
	"github.com/flowgate/flowgate/pipeline"
	"github.com/flowgate/flowgate/store"
)

// The ids of one WhatsApp user: their phone number and business-scoped user id, and after a
// number change the new number and the new user id Meta gives them.
const (
	phone    = "16505551234"
	userID   = "US.13491208655302741918"
	newPhone = "12195555358"
	newID    = "US.77712195555358000000"
)

// setupRedis is setup on a real Redis (redistest: a key prefix of its own, cleaned up), with
// st wrapping the store when set (to make a worker die at a chosen step).
func setupRedis(t *testing.T, wrap func(store.Store) store.Store) *fixture {
	t.Helper()
	f := setup(t, nil)
	c, prefix := redistest.Client(t)
	var st store.Store = store.NewRedis(c, store.Options{Prefix: prefix})
	if wrap != nil {
		st = wrap(st)
	}
	f.st = st
	f.p = pipeline.New(st, f.p.Bundle())
	f.p.Now, f.p.Lease = f.clock, 10*time.Second
	f.p.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	return f
}

// from is an event from the user with the given phone and user id (either may be empty).
func from(phone, id string, ev msg.Event) msg.Event {
	ev.From = id
	if id == "" {
		ev.From = phone
	}
	ev.Contact = msg.Contact{ID: ev.From, Name: "Kerry", Phone: phone, UserID: id}
	return ev
}

func (f *fixture) conv(user string) engine.Conversation {
	return engine.Conversation{Tenant: "acme", Team: "support", Channel: msg.WhatsApp, Account: "9", User: user}
}

// rawState is what the store holds for a conversation, undecoded.
func (f *fixture) rawState(t *testing.T, user string) []byte {
	t.Helper()
	b, err := f.st.Load(context.Background(), f.conv(user))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestUserIDTakesOverPhoneConversation: a conversation keyed by the phone number (started
// before user ids, or before an upgrade) goes on under the user id when an event names both:
// the waiting input, its timer, the variables and the handoff follow the person, and the phone
// number then leads to the user id's conversation, for events and API calls alike.
func TestUserIDTakesOverPhoneConversation(t *testing.T) {
	ctx := context.Background()
	f := setupRedis(t, nil)
	f.accept(t, f.body(t, from(phone, "", msg.Event{ID: "wamid.1", Text: "n"}), from(phone, "", msg.Event{ID: "wamid.2", Text: "ask"})))
	f.drain(t)

	// A status naming both ids reaches the user id's conversation, which takes the state over.
	f.accept(t, f.body(t, from(phone, userID, msg.Event{ID: "wamid.s", Kind: msg.KindStatus, Status: &msg.Status{MessageID: "wamid.2", State: msg.StatusRead}})))
	reps := f.drain(t)
	if len(reps) != 1 || reps[0].Conversation.User != userID {
		t.Fatalf("reports %+v, want one for the user id", reps)
	}
	st, err := f.p.State(ctx, f.conv(userID))
	if err != nil {
		t.Fatal(err)
	}
	if st.Node != "wait" || st.Vars["n"] != 1 || st.Phone != phone || st.UserID != userID {
		t.Fatalf("state under the user id %+v: want the phone's conversation, waiting", st)
	}
	if o := st.Outbox; len(o) != 2 || o[1].ID != "wamid.2" || o[1].Status != msg.StatusRead {
		t.Errorf("outbound records %+v: the status named by user id did not update wamid.2", o)
	}
	if b := f.rawState(t, phone); len(b) == 0 || b[0] != 0xff {
		t.Fatalf("the phone's conversation holds %q, want a link", b)
	}

	// The input's timer moved too: it fires once, for the user id, and goes to the phone.
	f.advance(2 * time.Minute)
	f.drain(t)
	sent := f.s.sentMessages()
	last := sent[len(sent)-1]
	if got := f.s.texts(); !equal(got, []string{"n 1", "name?", "too late"}) {
		t.Fatalf("sent %q", got)
	}
	if last.To != userID || last.Phone != phone {
		t.Errorf("timeout reply to %q phone %q, want the user id with its phone", last.To, last.Phone)
	}

	// A later event with only the phone, and an API start by phone, reach the same conversation.
	f.accept(t, f.body(t, from(phone, "", msg.Event{ID: "wamid.3", Text: "n"})))
	f.drain(t)
	rep, err := f.p.Start(ctx, f.ch, phone, "f", "hello", nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Conversation.User != userID {
		t.Errorf("start by phone ran on %q, want the user id's conversation", rep.Conversation.User)
	}
	st, _ = f.p.State(ctx, f.conv(phone)) // State follows the link too
	if st.Vars["n"] != 2 {
		t.Errorf("vars %v: the phone-only message did not count in the user id's conversation", st.Vars)
	}
	if got := f.s.texts(); !equal(got, []string{"n 1", "name?", "too late", "n 2", "hello"}) {
		t.Errorf("sent %q", got)
	}
}

// handOffPhone puts the phone number's conversation with the support queue's agents, opted
// out too when optOut is set, as it may be from before the user id arrived.
func (f *fixture) handOffPhone(t *testing.T, optOut bool) {
	t.Helper()
	if _, err := f.p.Direct(context.Background(), f.ch, phone, func(_ *engine.Engine, _ engine.Conversation, st *engine.State, _ time.Time) (*engine.Result, error) {
		st.Handoff, st.OptedOut = "support", optOut
		return &engine.Result{}, nil
	}); err != nil {
		t.Fatal(err)
	}
}

// userIDHandoff returns the only conversation with an agent, failing unless it is the user
// id's.
func (f *fixture) userIDHandoff(t *testing.T) pipeline.Handoff {
	t.Helper()
	hs, err := f.p.Handoffs(context.Background(), "acme", "support")
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 1 || hs[0].Conversation.User != userID {
		t.Fatalf("handoffs %+v, want the user id's conversation only", hs)
	}
	return hs[0]
}

// TestHandoffAndOptOutFollowThePerson: a user with a human agent, or opted out, under their
// phone number is still with the agent (and listed) or opted out under their user id.
func TestHandoffAndOptOutFollowThePerson(t *testing.T) {
	ctx := context.Background()
	f := setupRedis(t, nil)
	f.handOffPhone(t, true)
	f.accept(t, f.body(t, from(phone, userID, msg.Event{ID: "wamid.1", Text: "hi"})))
	f.drain(t)
	f.userIDHandoff(t)
	st, _ := f.p.State(ctx, f.conv(userID))
	if !st.OptedOut || len(f.s.texts()) != 0 {
		t.Errorf("opted out %v, sent %q: the opt-out was lost", st.OptedOut, f.s.texts())
	}
}

// TestKeptEventsFollowThePerson: the messages kept for the agent under the phone number before
// the user id arrived are listed, in order and before the new one, under the user id's
// conversation, and no longer under the phone's.
func TestKeptEventsFollowThePerson(t *testing.T) {
	ctx := context.Background()
	f := setupRedis(t, nil)
	f.handOffPhone(t, false)
	f.accept(t, f.body(t, from(phone, "", msg.Event{ID: "wamid.1", Text: "one"}), from(phone, "", msg.Event{ID: "wamid.2", Text: "two"})))
	f.drain(t)
	f.accept(t, f.body(t, from(phone, userID, msg.Event{ID: "wamid.3", Text: "three"})))
	f.drain(t)
	h := f.userIDHandoff(t)
	var ids []string
	for _, ev := range h.Kept {
		ids = append(ids, ev.ID)
	}
	if !equal(ids, []string{"wamid.1", "wamid.2", "wamid.3"}) {
		t.Errorf("kept %q, want the phone's two messages, then the new one", ids)
	}
	if kept, err := f.p.Store.Kept(ctx, f.conv(phone)); err != nil || len(kept) != 0 {
		t.Errorf("the phone's conversation still keeps %d events (%v)", len(kept), err)
	}
}

// dyingStore makes the worker die (as a killed process would) at the first commit of the
// conversation of user die names.
type dyingStore struct {
	store.Store
	die  string
	done bool
}

func (d *dyingStore) Commit(ctx context.Context, c *store.Claim, cm *store.Commit, now time.Time, lease time.Duration) error {
	if !d.done && c.Conv.User == d.die {
		d.done = true
		killWorker()
	}
	return d.Store.Commit(ctx, c, cm, now, lease)
}

// TestTakeOverSurvivesACrash: a worker that dies after the phone number's state moved into the
// link and before the user id's conversation was committed leaves nothing lost: the event is
// processed again once its lease expires, and takes the state from the link.
func TestTakeOverSurvivesACrash(t *testing.T) {
	ds := &dyingStore{die: userID}
	f := setupRedis(t, func(s store.Store) store.Store { ds.Store = s; return ds })
	f.accept(t, f.body(t, from(phone, "", msg.Event{ID: "wamid.1", Text: "n"}), from(phone, "", msg.Event{ID: "wamid.2", Text: "ask"})))
	f.drain(t)
	f.accept(t, f.body(t, from(phone, userID, msg.Event{ID: "wamid.3", Text: "Kerry"})))
	drainDying(f)
	if !ds.done {
		t.Fatal("the worker did not reach the commit")
	}
	if b := f.rawState(t, userID); b != nil {
		t.Fatalf("the user id's conversation has a state after the crash: %q", b)
	}
	f.advance(11 * time.Second)
	f.drain(t)
	st, err := f.p.State(context.Background(), f.conv(userID))
	if err != nil {
		t.Fatal(err)
	}
	if st.Vars["name"] != "Kerry" || st.Vars["n"] != 1 {
		t.Errorf("vars %v, want the answer saved on the phone's state", st.Vars)
	}
	if got := f.s.texts(); !equal(got, []string{"n 1", "name?", "hello"}) {
		t.Errorf("sent %q", got)
	}
}

// TestKeptEventsSurviveACrash: a worker that dies after the kept events moved into the link
// and before the user id's conversation was committed loses none of them.
func TestKeptEventsSurviveACrash(t *testing.T) {
	ctx := context.Background()
	ds := &dyingStore{die: userID}
	f := setupRedis(t, func(s store.Store) store.Store { ds.Store = s; return ds })
	f.handOffPhone(t, false)
	f.accept(t, f.body(t, from(phone, "", msg.Event{ID: "wamid.1", Text: "one"})))
	f.drain(t)
	f.accept(t, f.body(t, from(phone, userID, msg.Event{ID: "wamid.2", Text: "two"})))
	drainDying(f)
	if !ds.done {
		t.Fatal("the worker did not reach the commit")
	}
	f.advance(11 * time.Second)
	f.drain(t)
	hs, err := f.p.Handoffs(ctx, "acme", "support")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, h := range hs {
		for _, ev := range h.Kept {
			ids = append(ids, h.Conversation.User+" "+ev.ID)
		}
	}
	if !equal(ids, []string{userID + " wamid.1", userID + " wamid.2"}) {
		t.Errorf("kept %q, want both messages under the user id", ids)
	}
}

// TestNumberChangeKeepsTheConversation: after Meta's user_changed_number notice, the first
// message from the new number with the new user id goes on in the person's conversation, and
// replies go to the new number; a crash while the state moves loses nothing.
func TestNumberChangeKeepsTheConversation(t *testing.T) {
	ds := &dyingStore{die: newPhone}
	f := setupRedis(t, func(s store.Store) store.Store { ds.Store = s; return ds })
	ds.done = true // no crash while the notice links the new number
	f.accept(t, f.body(t, from(phone, userID, msg.Event{ID: "wamid.1", Text: "ask"})))
	f.drain(t)
	notice := from(phone, userID, msg.Event{ID: "wamid.2", Kind: msg.KindSystem,
		System: &msg.System{Type: msg.SystemNumberChanged, NewID: newPhone}})
	f.accept(t, f.body(t, notice))
	f.drain(t)

	// The worker dies after the old conversation moved into its link, before the new number's
	// link carries the state: the next attempt finds it in the old conversation's link.
	ds.done = false
	f.accept(t, f.body(t, from(newPhone, newID, msg.Event{ID: "wamid.3", Text: "Kerry"})))
	drainDying(f)
	if !ds.done {
		t.Fatal("the worker did not reach the new number's link")
	}
	f.advance(11 * time.Second)
	f.drain(t)
	st, err := f.p.State(context.Background(), f.conv(newID))
	if err != nil {
		t.Fatal(err)
	}
	if st.Vars["name"] != "Kerry" || st.Phone != newPhone {
		t.Errorf("state %+v, want the answer saved and the new number", st)
	}
	sent := f.s.sentMessages()
	if got := f.s.texts(); !equal(got, []string{"name?", "hello"}) || sent[1].Phone != newPhone {
		t.Errorf("sent %q, last to %+v", got, sent[len(sent)-1])
	}
}

// TestGroupMessagesDropped: a message written in a group is counted and never processed.
func TestGroupMessagesDropped(t *testing.T) {
	f := setup(t, nil)
	acc, err := f.p.Accept(context.Background(), f.ch, f.body(t,
		from(phone, userID, msg.Event{ID: "wamid.g", Text: "hi", Group: "120363044123456789"}),
		from(phone, userID, msg.Event{ID: "wamid.p", Text: "hi"})))
	if err != nil {
		t.Fatal(err)
	}
	if want := (pipeline.Accepted{Queued: 1, Groups: 1}); acc != want {
		t.Fatalf("accepted %+v, want %+v", acc, want)
	}
	f.drain(t)
	if got := f.s.texts(); !equal(got, []string{"hello"}) {
		t.Errorf("sent %q, want the private message answered only", got)
	}
}

// userIDSender answers every message with the user id, as the Cloud API's send response does.
type userIDSender struct{ *fakeSender }

func (s userIDSender) SendUser(ctx context.Context, m *msg.Message) ([]string, string, error) {
	ids, err := s.Send(ctx, m)
	return ids, userID, err
}

// TestSendRecordsUserID: the user id the channel answers a send by phone number with is kept
// with the conversation (contact.user_id in the flows).
func TestSendRecordsUserID(t *testing.T) {
	f := setup(t, nil)
	f.ch.Sender = userIDSender{f.s}
	if _, err := f.p.Start(context.Background(), f.ch, phone, "f", "hello", nil); err != nil {
		t.Fatal(err)
	}
	st, err := f.p.State(context.Background(), f.conv(phone))
	if err != nil {
		t.Fatal(err)
	}
	if st.UserID != userID {
		t.Errorf("user id %q recorded, want %q", st.UserID, userID)
	}
}

// TestAPIFollowsSeveralNumberChanges: an API call or a state read addressed by the phone
// number a person had before several number changes reaches their conversation, through the
// link each change left; neither reports success having done nothing.
func TestAPIFollowsSeveralNumberChanges(t *testing.T) {
	ctx := context.Background()
	f := setupRedis(t, nil)
	phoneOf := func(i int) string { return fmt.Sprintf("1650555%04d", i) }
	idOf := func(i int) string { return fmt.Sprintf("US.%020d", i+1) }
	const changes = 6
	for i := 0; i <= changes; i++ {
		f.accept(t, f.body(t, from(phoneOf(i), idOf(i), msg.Event{ID: fmt.Sprintf("wamid.m%d", i), Text: "hi"})))
		f.drain(t)
		if i < changes {
			f.accept(t, f.body(t, from(phoneOf(i), idOf(i), msg.Event{ID: fmt.Sprintf("wamid.c%d", i), Kind: msg.KindSystem,
				System: &msg.System{Type: msg.SystemNumberChanged, NewID: phoneOf(i + 1)}})))
			f.drain(t)
		}
	}
	before := len(f.s.texts())
	rep, err := f.p.Reply(ctx, f.ch, phoneOf(0), msg.Message{Text: &msg.Text{Body: "from the agent"}})
	if err != nil {
		t.Fatal(err)
	}
	if sent := f.s.texts()[before:]; len(sent) != 1 || sent[0] != "from the agent" || rep.Conversation.User != idOf(changes) {
		t.Fatalf("sent %q in %s, want the agent's reply in the conversation of %s", sent, rep.Conversation.User, idOf(changes))
	}
	st, err := f.p.State(ctx, f.conv(phoneOf(0)))
	if err != nil || st.Phone != phoneOf(changes) {
		t.Fatalf("state by the first number: %+v, %v; want the person's, with phone %s", st, err, phoneOf(changes))
	}
}
