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
	"github.com/flowgate/flowgate/providers/whatsapp"
	"github.com/flowgate/flowgate/store"
)

// Session is one simulated conversation with a bundle's flows: the pipeline gtc serve runs, with
// a memory store, a fake Graph API and a virtual clock. flowctl test drives one per case;
// flowctl chat drives one from the terminal.
type Session struct {
	clk   *clock
	graph *graphAPI
	pipe  *pipeline.Pipeline
	ch    *pipeline.Channel
	conv  engine.Conversation
	store *store.Mem
	seq   int
}

// SessionOptions configure a Session.
type SessionOptions struct {
	Engine   *engine.Engine
	HTTP     engine.HTTPClient // answers the flows' http nodes; nil keeps the engine's
	Tenant   string            // default "default"
	Team     string            // default "default"
	DedupTTL time.Duration
	Account  string    // the business phone number id
	Contact  string    // the user's phone number
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

// NewSession starts a conversation on WhatsApp.
func NewSession(o SessionOptions) *Session {
	s := &Session{clk: &clock{t: o.Clock}, graph: &graphAPI{}}
	eng := o.Engine
	if o.HTTP != nil {
		eng = eng.WithHTTP(o.HTTP)
	}
	s.store = store.NewMem(s.clk.Now)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	s.pipe = &pipeline.Pipeline{Engine: eng, Store: s.store, Inbox: s.store, Now: s.clk.Now, Log: quiet, DedupTTL: o.DedupTTL}
	client := whatsapp.NewClient(whatsapp.Config{
		PhoneNumberID: o.Account,
		AccessToken:   "flowctl-test-token",
		BaseURL:       "https://graph.flowctl.test",
		HTTPClient:    &http.Client{Transport: s.graph},
		Clock:         s.clk,
		Jitter:        func(time.Duration) time.Duration { return 0 },
		Logger:        quiet,
	})
	tenant, team := o.Tenant, o.Team
	if tenant == "" {
		tenant = "default"
	}
	if team == "" {
		team = "default"
	}
	s.ch = &pipeline.Channel{Name: msg.WhatsApp, Tenant: tenant, Team: team, Parse: whatsapp.Parse, Sender: client}
	s.conv = engine.Conversation{Tenant: tenant, Team: team, Channel: msg.WhatsApp, Account: o.Account, User: o.Contact}
	return s
}

// Now is the virtual time.
func (s *Session) Now() time.Time { return s.clk.t }

// SetVars gives the conversation variables before it starts.
func (s *Session) SetVars(ctx context.Context, vars map[string]any) error {
	st, err := s.pipe.State(ctx, s.conv)
	if err != nil {
		return err
	}
	if st.Vars == nil {
		st.Vars = map[string]any{}
	}
	for k, v := range vars {
		st.Vars[k] = v
	}
	data, err := st.Encode()
	if err != nil {
		return fmt.Errorf("vars: %w", err)
	}
	return s.store.Save(ctx, s.conv, data, 30*24*time.Hour)
}

// FailSends makes the fake Graph API answer the next sends with these errors, in order.
func (s *Session) FailSends(errs []GraphMock) {
	s.graph.errors = append([]GraphMock(nil), errs...)
}

// State returns the conversation's state.
func (s *Session) State(ctx context.Context) (*engine.State, error) {
	return s.pipe.State(ctx, s.conv)
}

// Deliver sends a webhook body through the pipeline, as the server's handler and worker would.
// The clock moves forward to a later message's own timestamp.
func (s *Session) Deliver(ctx context.Context, body []byte) (*Turn, error) {
	_, dups, err := s.pipe.Accept(ctx, s.ch, body)
	if err != nil {
		return nil, err
	}
	var reps []*pipeline.Report
	if dups > 0 {
		reps = append(reps, &pipeline.Report{Duplicate: true, Trace: []engine.TraceEntry{{Kind: "duplicate", Detail: fmt.Sprintf("%d event(s) seen before: dropped", dups)}}})
	}
	for _, it := range s.store.Take() {
		ev := &it.Event
		if ev.IsMessage() && ev.Time.After(s.clk.t) {
			s.clk.t = ev.Time
		}
		rep, err := s.pipe.Process(ctx, s.ch, ev)
		if err != nil {
			return s.turn(reps), err
		}
		reps = append(reps, rep)
	}
	return s.turn(reps), nil
}

// Say sends a message from the user, rendered as the webhook WhatsApp would deliver.
func (s *Session) Say(ctx context.Context, in *SendStep) (*Turn, error) {
	s.seq++
	ev := &msg.Event{
		Channel: msg.WhatsApp,
		Account: s.conv.Account,
		From:    s.conv.User,
		ID:      fmt.Sprintf("wamid.flowctl.in.%d", s.seq),
		Time:    s.clk.t,
		Contact: msg.Contact{Name: in.Name},
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
	body, err := whatsapp.WebhookBody(ev)
	if err != nil {
		return nil, err
	}
	return s.Deliver(ctx, body)
}

// Start runs a flow for the user, as the API's start call does.
func (s *Session) Start(ctx context.Context, flow, node string, vars map[string]any) (*Turn, error) {
	rep, err := s.pipe.Start(ctx, s.ch, s.conv.Account, s.conv.User, flow, node, vars)
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
		conv, due, err := s.nextTimer(ctx)
		if err != nil {
			return s.turn(reps), err
		}
		if due.IsZero() || due.After(end) {
			break
		}
		if due.After(s.clk.t) {
			s.clk.t = due
		}
		rep, err := s.pipe.Tick(ctx, s.ch, conv)
		if err != nil {
			return s.turn(reps), err
		}
		reps = append(reps, rep)
	}
	s.clk.t = end
	return s.turn(reps), nil
}

// nextTimer finds the conversation whose timer is due first, and when.
func (s *Session) nextTimer(ctx context.Context) (engine.Conversation, time.Time, error) {
	convs, err := s.store.Conversations(ctx)
	if err != nil {
		return engine.Conversation{}, time.Time{}, err
	}
	var first engine.Conversation
	var at time.Time
	for _, conv := range convs {
		due, err := s.pipe.Due(ctx, conv)
		if err != nil {
			return first, at, err
		}
		if !due.IsZero() && (at.IsZero() || due.Before(at)) {
			first, at = conv, due
		}
	}
	return first, at, nil
}

// turn collects what the reports sent, with the request bodies the fake Graph API received.
func (s *Session) turn(reps []*pipeline.Report) *Turn {
	t := &Turn{}
	for _, rep := range reps {
		t.Trace = append(t.Trace, rep.Trace...)
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
