package flowtest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/flowgate/flowgate/engine"
	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/pipeline"
	"github.com/flowgate/flowgate/providers/channel"
	"github.com/flowgate/flowgate/store"
)

// Session is one simulated conversation with a bundle's flows: the pipeline gtc serve runs,
// with the embedded store, a fake Graph API and a virtual clock. flowctl test drives one per
// case; flowctl chat drives one from the terminal. Close releases it.
type Session struct {
	provider channel.Provider
	clk      *clock
	graph    *graphAPI
	pipe     *pipeline.Pipeline
	ch       *pipeline.Channel
	conv     engine.Conversation
	identity msg.Contact // the user's phone, user id and username, for synthetic messages
	store    store.Store
	close    func() error
	seq      int
}

// SessionOptions configure a Session.
type SessionOptions struct {
	Engine *engine.Engine
	HTTP   engine.HTTPClient // answers the flows' http nodes; nil keeps the engine's
	// Provider is the channel the conversation is on: its parser, renderer and client run,
	// against a fake of its API.
	Provider channel.Provider
	Tenant   string // default "default"
	Team     string // default "default"
	DedupTTL time.Duration
	Account  string // the business account: phone number id, page id, Instagram account id
	Contact  string // the user's id on the channel: phone number, PSID, IGSID, WhatsApp user id
	// Identity is what synthetic messages tell about the user (a WhatsApp phone number, user id
	// and username); zero: Contact alone.
	Identity msg.Contact
	Clock    time.Time // where the virtual clock starts
}

// Turn is what one user action, start or clock advance produced.
type Turn struct {
	Sent   []Sent   // messages the fake Graph API accepted, in order
	Errors []string // sends that failed for good
	Trace  []engine.TraceEntry
}

// Sent is an outbound message as the fake Graph API received it.
type Sent struct {
	Message msg.Message
	Request []byte // the JSON body of the (first) request
}

// NewSession starts a conversation on the channel of o.Provider.
func NewSession(o SessionOptions) (*Session, error) {
	if o.Provider == nil {
		return nil, fmt.Errorf("session: no channel provider")
	}
	s := &Session{clk: &clock{t: o.Clock}, graph: &graphAPI{provider: o.Provider}, provider: o.Provider}
	eng := o.Engine
	if o.HTTP != nil {
		eng = eng.WithHTTP(o.HTTP)
	}
	st, closeStore, err := store.NewEmbedded(store.EmbeddedOptions{Now: s.clk.Now})
	if err != nil {
		return nil, fmt.Errorf("session store: %w", err)
	}
	s.store, s.close = st, closeStore
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	sender := o.Provider.NewSender(
		channel.Account{ID: o.Account, Token: "flowctl-test-token", BaseURL: "https://graph.flowctl.test"},
		channel.SendOptions{
			HTTPClient: &http.Client{Transport: s.graph},
			Clock:      s.clk,
			Jitter:     func(time.Duration) time.Duration { return 0 },
			Logger:     quiet,
		})
	tenant, team := o.Tenant, o.Team
	if tenant == "" {
		tenant = "default"
	}
	if team == "" {
		team = "default"
	}
	name := o.Provider.Name()
	s.ch = &pipeline.Channel{Name: name, Tenant: tenant, Team: team, Account: o.Account, Parse: o.Provider.Parse, Sender: sender}
	s.pipe = pipeline.New(st, &pipeline.Bundle{Engine: eng, Channels: []*pipeline.Channel{s.ch}})
	s.pipe.Now, s.pipe.Log, s.pipe.DedupTTL = s.clk.Now, quiet, o.DedupTTL
	s.conv = engine.Conversation{Tenant: tenant, Team: team, Channel: name, Account: o.Account, User: o.Contact}
	s.identity = o.Identity
	return s, nil
}

// Close releases the session's store.
func (s *Session) Close() error { return s.close() }

// Now is the virtual time.
func (s *Session) Now() time.Time { return s.clk.t }

// SetVars gives the conversation variables before it starts.
func (s *Session) SetVars(ctx context.Context, vars map[string]any) error {
	return s.pipe.SetVars(ctx, s.ch, s.conv.User, vars)
}

// FailSends makes the fake Graph API answer the next sends with these errors, in order.
func (s *Session) FailSends(errs []GraphMock) {
	s.graph.errors = append([]GraphMock(nil), errs...)
}

// State returns the conversation's state.
func (s *Session) State(ctx context.Context) (*engine.State, error) {
	return s.pipe.State(ctx, s.conv)
}

// Deliver sends a webhook body through the pipeline, as the server's handler and workers
// would. The clock moves forward to the latest message timestamp in the body first.
func (s *Session) Deliver(ctx context.Context, body []byte) (*Turn, error) {
	if evs, err := s.ch.Parse(body); err == nil {
		for _, ev := range evs {
			if ev.IsMessage() && ev.Time.After(s.clk.t) {
				s.clk.t = ev.Time
			}
		}
	}
	acc, err := s.pipe.Accept(ctx, s.ch, body)
	if err != nil {
		return nil, err
	}
	var reps []*pipeline.Report
	if acc.Duplicates > 0 {
		reps = append(reps, &pipeline.Report{Trace: []engine.TraceEntry{{Kind: "duplicate", Detail: fmt.Sprintf("%d event(s) seen before: dropped", acc.Duplicates)}}})
	}
	if acc.Stale > 0 {
		reps = append(reps, &pipeline.Report{Trace: []engine.TraceEntry{{Kind: "stale",
			Detail: fmt.Sprintf("%d message(s) older than dedup_ttl: dropped", acc.Stale)}}})
	}
	if acc.Groups > 0 {
		reps = append(reps, &pipeline.Report{Trace: []engine.TraceEntry{{Kind: "group",
			Detail: fmt.Sprintf("%d group message(s): dropped", acc.Groups)}}})
	}
	if acc.Foreign > 0 {
		reps = append(reps, &pipeline.Report{Trace: []engine.TraceEntry{{Kind: "foreign_account",
			Detail: fmt.Sprintf("%d event(s) for another business account than %s: dropped", acc.Foreign, s.ch.Account)}}})
	}
	more, err := s.pipe.Drain(ctx)
	return s.turn(append(reps, more...)), err
}

// Say sends a message from the user, rendered as the webhook the channel would deliver.
func (s *Session) Say(ctx context.Context, in *SendStep) (*Turn, error) {
	s.seq++
	id, from := s.identity, s.conv.User
	if c := in.Contact; c != nil {
		id, from = msg.Contact{Phone: c.Phone, UserID: c.UserID, Username: c.Username}, c.Key()
	}
	id.ID, id.Name = from, in.Name
	ev := &msg.Event{
		Channel: s.conv.Channel,
		Account: s.conv.Account,
		From:    from,
		ID:      fmt.Sprintf("flowctl.in.%d", s.seq),
		Time:    s.clk.t,
		Contact: id,
	}
	switch {
	case in.Button != "":
		ev.Kind, ev.Button = msg.KindButton, &msg.Reply{ID: in.Button, Title: in.Button}
	case in.List != "":
		ev.Kind, ev.List = msg.KindList, &msg.ListReply{ID: in.List, Title: in.List}
	case in.Location != nil:
		l := in.Location
		ev.Kind, ev.Location = msg.KindLocation, &msg.Location{Latitude: l.Latitude, Longitude: l.Longitude, Name: l.Name, Address: l.Address}
	case in.Image != "":
		ev.Kind, ev.Media = msg.KindMedia, &msg.Media{Type: "image", ID: in.Image, MimeType: "image/jpeg", Caption: in.Caption}
	default:
		ev.Kind, ev.Text = msg.KindText, in.Text
	}
	body, err := s.provider.WebhookBody(ev)
	if err != nil {
		return nil, err
	}
	return s.Deliver(ctx, body)
}

// Start runs a flow for the user, as the API's start call does.
func (s *Session) Start(ctx context.Context, flow, node string, vars map[string]any) (*Turn, error) {
	rep, err := s.pipe.Start(ctx, s.ch, s.conv.User, flow, node, vars)
	if rep == nil {
		return nil, err
	}
	return s.turn([]*pipeline.Report{rep}), err
}

// maxTimers bounds the timers one Advance fires, against flows whose timers re-arm forever.
const maxTimers = 1000

// Advance moves the virtual clock forward by d, firing each timer that falls due on the way
// (input timeouts, session expiry) at its own time, in time order, as a server would.
func (s *Session) Advance(ctx context.Context, d time.Duration) (*Turn, error) {
	end := s.clk.t.Add(d)
	var reps []*pipeline.Report
	for range maxTimers {
		due, err := s.store.NextTimer(ctx)
		if err != nil {
			return s.turn(reps), err
		}
		if due.IsZero() || due.After(end) {
			break
		}
		if due.After(s.clk.t) {
			s.clk.t = due
		}
		more, err := s.pipe.Drain(ctx)
		reps = append(reps, more...)
		if err != nil {
			return s.turn(reps), err
		}
	}
	s.clk.t = end
	return s.turn(reps), nil
}

// turn collects what the reports sent, with the request bodies the fake Graph API received.
func (s *Session) turn(reps []*pipeline.Report) *Turn {
	t := &Turn{}
	for _, rep := range reps {
		t.Trace = append(t.Trace, rep.Trace...)
		if rep.Err != nil {
			t.Errors = append(t.Errors, rep.Err.Error())
		}
		if rep.Dropped != "" {
			t.Errors = append(t.Errors, "event dropped: "+rep.Dropped)
		}
		for _, o := range rep.Outcomes {
			if o.Err != nil {
				t.Errors = append(t.Errors, fmt.Sprintf("%s %s/%s: %v", o.Send.Message.Type(), o.Send.Flow, o.Send.Node, o.Err))
				continue
			}
			var body []byte
			if len(o.IDs) > 0 {
				body = s.graph.bodies[o.IDs[0]]
			}
			t.Sent = append(t.Sent, Sent{Message: o.Send.Message, Request: body})
		}
	}
	return t
}
