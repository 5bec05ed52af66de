package devconsole

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/flowgate/flowgate/engine"
	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/flowtest"
)

// conversation is one contact's conversation as the console saw it.
type conversation struct {
	user    string
	name    string
	offset  time.Duration // how far its clock runs ahead of the real one
	seq     int
	entries []*entry
}

// Kinds of entries.
const (
	kindSend    = "send"    // the user sent a message
	kindAdvance = "advance" // the conversation's clock moved forward
	kindStart   = "start"   // a flow was started, as the API does
	kindTimer   = "timer"   // the bot did something on its own (a timer fired)
)

// entry is one thing that happened in a conversation and what the flows did about it.
type entry struct {
	kind    string
	at      time.Time // the conversation's clock when it happened
	label   string
	send    *flowtest.SendStep // the send step of a test case
	advance time.Duration
	flow    string
	vars    map[string]any
	waiting bool // its report has not come in yet
	outs    []out
	trace   []engine.TraceEntry
	errs    []string
}

// out is one outbound message.
type out struct {
	m       msg.Message
	Request json.RawMessage `json:"request,omitempty"` // the Graph API request body
	Error   string          `json:"error,omitempty"`
	Flow    string          `json:"flow,omitempty"`
	Node    string          `json:"node,omitempty"`
}

// pending returns the oldest entry still waiting for its report, or nil.
func (cv *conversation) pending() *entry {
	for _, e := range cv.entries {
		if e.waiting {
			return e
		}
	}
	return nil
}

// convView is a conversation as the page gets it.
type convView struct {
	User    string      `json:"user"`
	Name    string      `json:"name"`
	Offset  string      `json:"offset"` // "" or "+25h"
	Now     int64       `json:"now"`    // the conversation's clock, Unix milliseconds
	Window  windowView  `json:"window"`
	Waiting string      `json:"waiting,omitempty"` // flow/node the conversation waits at
	Entries []entryView `json:"entries"`
}

// windowView is the state of the conversation's 24-hour window.
type windowView struct {
	Open     bool  `json:"open"`
	ClosesAt int64 `json:"closes_at,omitempty"` // Unix milliseconds; 0 before the first message
	Refused  bool  `json:"refused,omitempty"`   // WhatsApp refused a message for the closed window
}

type entryView struct {
	Kind    string      `json:"kind"`
	Label   string      `json:"label"`
	At      int64       `json:"at"`
	Waiting bool        `json:"waiting,omitempty"`
	Out     []out       `json:"out"`
	Trace   []traceView `json:"trace"`
	Errors  []string    `json:"errors,omitempty"`
	Quiet   string      `json:"quiet,omitempty"` // why nothing was sent, when nothing was
}

type traceView struct {
	Kind   string `json:"kind"`
	Node   string `json:"node,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// viewLocked builds what the page shows of cv; the console's lock is held.
func (c *Console) viewLocked(ctx context.Context, cv *conversation) convView {
	now := c.nowLocked(cv)
	v := convView{User: cv.user, Name: cv.name, Now: now.UnixMilli(), Entries: make([]entryView, 0, len(cv.entries))}
	if cv.offset > 0 {
		v.Offset = "+" + engine.FormatDuration(cv.offset)
	}
	if ch, err := c.channel(); err == nil {
		conv := engine.Conversation{Tenant: ch.Tenant, Team: ch.Team, Channel: ch.Name, Account: ch.Account, User: cv.user}
		if st, err := c.opts.Pipeline.State(ctx, conv); err == nil && st.LastMessageTime > 0 {
			margin := c.opts.Pipeline.Bundle().Engine.Settings().WindowMargin
			closes := time.Unix(st.LastMessageTime, 0).Add(24*time.Hour - margin)
			v.Window = windowView{Open: now.Before(closes) && !st.WindowClosed, ClosesAt: closes.UnixMilli(), Refused: st.WindowClosed}
			if st.Waiting() {
				v.Waiting = st.Flow + "/" + st.Node
			}
		}
	}
	for _, e := range cv.entries {
		ev := entryView{Kind: e.kind, Label: e.label, At: e.at.UnixMilli(), Waiting: e.waiting, Out: e.outs, Errors: e.errs,
			Trace: make([]traceView, 0, len(e.trace))}
		if ev.Out == nil {
			ev.Out = []out{}
		}
		for _, t := range e.trace {
			ev.Trace = append(ev.Trace, traceView{Kind: string(t.Kind), Node: t.Node, Detail: t.Detail})
		}
		if !e.waiting && len(e.outs) == 0 {
			ev.Quiet = engine.Quiet(e.trace)
		}
		v.Entries = append(v.Entries, ev)
	}
	return v
}

// publish sends the page the current view of user's conversation.
func (c *Console) publish(user string) {
	c.mu.Lock()
	cv := c.convs[user]
	if cv == nil {
		c.mu.Unlock()
		return
	}
	v := c.viewLocked(context.Background(), cv)
	c.mu.Unlock()
	data, err := json.Marshal(v)
	if err != nil {
		c.opts.Log.Error("dev console: encode conversation", "err", err)
		return
	}
	c.broadcast(event{name: "conversation", data: data})
}

// bundleEvent tells the page the flows it can start and why the last reload failed.
func (c *Console) bundleEvent() event {
	var flows []string
	if b := c.opts.Pipeline.Bundle(); b != nil && b.Engine != nil {
		for _, f := range b.Engine.Flows() {
			if f.Start != "" {
				flows = append(flows, f.Name)
			}
		}
	}
	c.mu.Lock()
	problem := c.problem
	c.mu.Unlock()
	data, _ := json.Marshal(map[string]any{"flows": flows, "problem": problem})
	return event{name: "bundle", data: data}
}

func (c *Console) broadcast(ev event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for ch := range c.subs {
		select {
		case ch <- ev:
		default: // a page that does not keep up misses this one; the next view is whole
		}
	}
}

// events streams the page's updates as server-sent events: the bundle, every conversation,
// then each change as it happens.
func (c *Console) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		httpError(w, http.StatusInternalServerError, "streaming unsupported")
		return
	}
	ch := make(chan event, 64)
	c.mu.Lock()
	c.subs[ch] = struct{}{}
	users := append([]string(nil), c.order...)
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.subs, ch)
		c.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	write := func(ev event) bool {
		_, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.name, ev.data)
		fl.Flush()
		return err == nil
	}
	write(c.bundleEvent())
	for _, u := range users {
		c.mu.Lock()
		v := c.viewLocked(r.Context(), c.convs[u])
		c.mu.Unlock()
		data, _ := json.Marshal(v)
		write(event{name: "conversation", data: data})
	}
	keepAlive := time.NewTicker(25 * time.Second)
	defer keepAlive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-c.closed:
			return
		case ev := <-ch:
			if !write(ev) {
				return
			}
		case <-keepAlive.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
			fl.Flush()
		}
	}
}

// minGap is the shortest pause between two steps that a saved case keeps as an advance step;
// shorter ones are dropped, so that a case does not depend on how fast someone typed.
const minGap = time.Minute

// testCase writes the conversation as a flowctl test case: each message, start and clock
// move a step, expecting exactly what was sent; pauses of a minute or more become advance
// steps, expecting what the timers sent in them.
func (cv *conversation) testCase() ([]byte, error) {
	t := flowtest.Transcript{Name: "console conversation with " + cv.user, Channel: Channel, Contact: cv.user,
		Comment: "Saved from the dev console (/dev/). Replay it with flowctl test."}
	if cv.name != "" {
		t.Name = fmt.Sprintf("console conversation with %s (%s)", cv.name, cv.user)
	}
	sent := func(outs []out) []flowtest.Sent {
		var ss []flowtest.Sent
		for i := range outs {
			if outs[i].Error == "" {
				ss = append(ss, flowtest.Sent{Message: outs[i].m})
			}
		}
		return ss
	}
	var clock time.Time // the replay's clock
	var timers []out    // what timers sent since the last step
	for _, e := range cv.entries {
		if e.kind == kindTimer {
			timers = append(timers, e.outs...)
			continue
		}
		if clock.IsZero() {
			clock = e.at.Truncate(time.Second)
			t.Clock = clock
		}
		if gap := e.at.Sub(clock).Truncate(time.Second); gap >= minGap || len(timers) > 0 {
			t.Steps = append(t.Steps, flowtest.TranscriptStep{Advance: max(gap, time.Second), Sent: sent(timers)})
			clock = clock.Add(max(gap, time.Second))
			timers = nil
		}
		s := flowtest.TranscriptStep{Sent: sent(e.outs)}
		switch e.kind {
		case kindSend:
			s.Send = e.send
		case kindStart:
			s.Start = &flowtest.StartStep{Flow: e.flow, Vars: e.vars}
		case kindAdvance:
			s.Advance = e.advance
			clock = clock.Add(e.advance)
		}
		t.Steps = append(t.Steps, s)
	}
	if len(timers) > 0 {
		t.Steps = append(t.Steps, flowtest.TranscriptStep{Advance: time.Second, Sent: sent(timers)})
	}
	return t.Marshal(cv.user + ".test.yaml")
}
