package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/flowgate/flowgate/engine/msg"
)

// Engine runs a bundle's compiled flows. It is safe for concurrent use: all per-conversation
// data lives in the State passed to each call.
type Engine struct {
	flows    map[string]*Flow
	order    []*Flow // by file name
	triggers []*trigger
	settings Settings
	fallback *fallback // the bundle's window.fallback_template
	http     HTTPClient
	limits   map[string]msg.Limits
	optOut   map[string]bool
	optIn    map[string]bool
	// categories are the templates' categories by name and language ("name\x00language").
	categories map[string]string
}

// WithHTTP returns a copy of the engine whose http nodes call c. The copy shares the compiled
// flows, which runs never modify, so both may run at once: flowctl test gives each case its
// own mocks this way.
func (e *Engine) WithHTTP(c HTTPClient) *Engine {
	cp := *e
	cp.http = c
	return &cp
}

// Flow returns the flow with the given name, or nil.
func (e *Engine) Flow(name string) *Flow { return e.flows[name] }

// Flows returns the flows, ordered by file name.
func (e *Engine) Flows() []*Flow { return e.order }

// Settings returns the settings the engine runs with.
func (e *Engine) Settings() Settings { return e.settings }

// run is the work of handling one event or call.
type run struct {
	e    *Engine
	ctx  context.Context
	conv Conversation
	st   *State
	now  time.Time
	env  Env
	res  *Result
	node *Node // the node running
	vm   vm.VM // reused by every expression of the run
	// budget is what the run's expressions may still build; overTraced: the trace says it ran out.
	budget     budget
	overTraced bool
	// valueCut: a {{ }} value was cut to limits.value_length since the http node began.
	valueCut bool
	out      Result
	// fellBack: a window fallback went out, or the channel refused for the closed window, in
	// this event. Later free-form messages are held, not replaced by another template.
	fellBack bool
}

func (e *Engine) newRun(ctx context.Context, conv Conversation, st *State, ev *msg.Event, now time.Time) *run {
	if st.Vars == nil {
		st.Vars = map[string]any{}
	}
	r := &run{e: e, ctx: ctx, conv: conv, st: st, now: now, budget: budget{Context: ctx, timeout: e.settings.exprTime(), limit: e.settings.exprMemory()}}
	r.res = &r.out
	r.env = Env{
		Vars:            st.Vars,
		Channel:         conv.Channel,
		Tenant:          conv.Tenant,
		Team:            conv.Team,
		Now:             now.Unix(),
		LastMessageTime: st.LastMessageTime,
		Contact:         ContactEnv{ID: conv.User, Name: st.Name, Phone: st.Phone, UserID: st.UserID, Username: st.Username},
	}
	if ev != nil {
		r.setEvent(ev)
	}
	r.env.WindowOpen = r.windowOpen()
	return r
}

// setEvent fills the environment from an inbound event.
func (r *run) setEvent(ev *msg.Event) {
	env := &r.env
	at := ev.Time
	if at.IsZero() {
		at = r.now // no readable timestamp: the message counts as received now
	}
	env.Message = MessageEnv{ID: ev.ID, Type: string(ev.Kind), Text: ev.Text, Timestamp: at.Unix()}
	c := ev.Contact
	env.Contact = ContactEnv{ID: r.conv.User, Name: c.Name, Phone: c.Phone, UserID: c.UserID, Username: c.Username}
	if env.Contact.Name == "" {
		env.Contact.Name = r.st.Name
	}
	if env.Contact.Phone == "" {
		env.Contact.Phone = r.st.Phone
	}
	if env.Contact.UserID == "" {
		env.Contact.UserID = r.st.UserID
	}
	if env.Contact.Username == "" {
		env.Contact.Username = r.st.Username
	}
	env.Input = ev.Text
	switch {
	case ev.Button != nil:
		env.Button = ButtonEnv{ID: ev.Button.ID, Title: ev.Button.Title}
		env.Input = ev.Button.ID
	case ev.List != nil:
		env.List = ListEnv{ID: ev.List.ID, Title: ev.List.Title, Description: ev.List.Description}
		env.Input = ev.List.ID
	case ev.Location != nil:
		l := ev.Location
		env.Location = LocationEnv{Latitude: l.Latitude, Longitude: l.Longitude, Name: l.Name, Address: l.Address}
	case ev.Media != nil:
		m := ev.Media
		env.Media = MediaEnv{Type: m.Type, ID: m.ID, MimeType: m.MimeType, Caption: m.Caption, Filename: m.Filename}
		env.Input = ""
	}
}

// Handle routes one inbound event through the conversation (docs/flow-format.md): statuses update
// the outbound record, opt-out and opt-in keywords, the messages held for a closed window go out
// once the message has opened it, then handoff, a waiting input node, triggers and the default
// flow. It updates st in place.
func (e *Engine) Handle(ctx context.Context, conv Conversation, st *State, ev *msg.Event, now time.Time) *Result {
	r := e.newRun(ctx, conv, st, ev, now)
	switch {
	case ev.Kind == msg.KindStatus && ev.Status != nil:
		rememberContact(conv, st, ev)
		r.status(ev.Status)
		return r.res
	case !ev.IsMessage():
		r.tracef(TraceIgnored, "", "%s event: not a message", ev.Kind)
		return r.res
	case ev.Kind == msg.KindSystem && ev.System != nil:
		// A notice about the user (a changed number), not something they wrote: it answers
		// no input and starts no flow.
		rememberContact(conv, st, ev)
		r.tracef(TraceIgnored, "", "system notice %s", ev.System.Type)
		return r.res
	}
	if t := r.env.Message.Timestamp; t > st.LastMessageTime {
		st.LastMessageTime = t
	}
	if ev.Contact.Name != "" {
		st.Name = ev.Contact.Name
	}
	rememberContact(conv, st, ev)
	st.WindowClosed = false
	r.env.LastMessageTime = st.LastMessageTime
	r.env.WindowOpen = r.windowOpen()
	word := strings.ToUpper(strings.TrimSpace(ev.Text))
	switch {
	case ev.Kind == msg.KindText && e.optOut[word]:
		if !st.OptedOut {
			r.tracef(TraceOptOut, "", "%q", ev.Text)
			if c := e.settings.OptOutConfirmation; c != "" {
				r.emit(nil, msg.Message{Text: &msg.Text{Body: c}})
			}
			st.OptedOut = true
		} else {
			r.tracef(TraceSuppressed, "", "opted out already: %q", ev.Text)
		}
		r.clearWait()
		r.dropHeld("the user opted out")
		return r.res
	case ev.Kind == msg.KindText && e.optIn[word] && st.OptedOut:
		st.OptedOut = false
		r.tracef(TraceOptIn, "", "%q", ev.Text)
	case st.OptedOut:
		r.tracef(TraceSuppressed, "", "opted out: no flow runs")
		return r.res
	}
	r.deliverHeld()
	if st.Handoff != "" {
		r.res.Kept = true
		r.tracef(TraceHandoff, "", "kept for a human agent (handoff to queue %s)", st.Handoff)
		return r.res
	}
	r.expire()
	st.Active = now.Unix()
	if st.Waiting() {
		if t := e.match(r, ev, true); t != nil {
			r.clearWait()
			r.tracef(TraceTrigger, t.node.path, "interrupt %s trigger", t.Type)
			r.exec(t.node)
			return r.res
		}
		if n := e.waitingNode(st); n != nil {
			r.node = n
			r.exec(n.step.(waiter).resume(r, n))
			return r.res
		}
		r.clearWait() // the flow changed under the conversation: start over
	}
	if t := e.match(r, ev, false); t != nil {
		r.trace(TraceTrigger, t.node.path, t.Type+" trigger")
		r.exec(t.node)
		return r.res
	}
	if f := e.flows[e.settings.DefaultFlow]; f != nil && f.start() != nil {
		r.tracef(TraceTrigger, f.Name+"/"+f.start().ID, "default flow")
		r.exec(f.start())
		return r.res
	}
	r.tracef(TraceIgnored, "", "no trigger matched %s", unmatched(ev))
	return r.res
}

// Start runs a flow for a user, as the API does for proactive messages: from node, or the
// flow's start node. vars are merged into the conversation's variables first.
func (e *Engine) Start(ctx context.Context, conv Conversation, st *State, flow, node string, vars map[string]any, now time.Time) (*Result, error) {
	f := e.flows[flow]
	if f == nil {
		return nil, fmt.Errorf("start: no flow %q", flow)
	}
	n := f.start()
	if node != "" {
		n = f.index[node]
	}
	switch {
	case n == nil && node == "":
		return nil, fmt.Errorf("start: flow %q has no start node; name one", flow)
	case n == nil:
		return nil, fmt.Errorf("start: flow %q has no node %q", flow, node)
	}
	r := e.newRun(ctx, conv, st, nil, now)
	if st.OptedOut {
		r.tracef(TraceSuppressed, "", "opted out: start of %s refused", flow)
		return r.res, nil
	}
	if st.Handoff != "" {
		r.tracef(TraceHandoff, "", "in handoff to %s: start of %s refused", st.Handoff, flow)
		return r.res, nil
	}
	keep := make(map[string]any, len(vars))
	for k, v := range vars {
		s, err := e.KeepVar(v)
		if err != nil {
			return nil, fmt.Errorf("start: vars.%s: %w", k, err)
		}
		keep[k] = s
	}
	for k, v := range keep {
		st.Vars[k] = v
	}
	r.clearWait()
	st.Active = now.Unix()
	r.tracef(TraceTrigger, f.Name+"/"+n.ID, "started")
	r.exec(n)
	return r.res, nil
}

// Tick fires the conversation's due timers: an input wait that timed out continues at the
// node's on_timeout; a session idle past session_timeout is cleared.
func (e *Engine) Tick(ctx context.Context, conv Conversation, st *State, now time.Time) *Result {
	r := e.newRun(ctx, conv, st, nil, now)
	// A session that expired before the input timed out drops the wait first, as a host that
	// ticks at every NextTimer would have; a late tick (flowctl's advance) must agree.
	if exp := e.sessionEnd(st); exp > 0 && exp < st.Timeout {
		r.expire()
	}
	if st.Waiting() && st.Timeout > 0 && now.Unix() >= st.Timeout {
		n := e.waitingNode(st)
		r.clearWait()
		if n != nil {
			r.node = n
			next := n.step.(waiter).timedOut()
			if next == nil {
				r.tracef(TraceTimeout, r.nodeID(), "no answer, and no on_timeout: the wait is dropped")
			} else {
				r.tracef(TraceTimeout, r.nodeID(), "no answer")
			}
			if !st.OptedOut && st.Handoff == "" {
				r.exec(next)
			}
		}
		return r.res
	}
	r.expire()
	return r.res
}

// NextTimer returns when Tick next has work for this conversation, or zero.
func (e *Engine) NextTimer(st *State) time.Time {
	if !st.Waiting() {
		return time.Time{}
	}
	at := e.sessionEnd(st)
	if st.Timeout > 0 && (at == 0 || st.Timeout < at) {
		at = st.Timeout
	}
	if at == 0 {
		return time.Time{}
	}
	return time.Unix(at, 0)
}

// Refused answers a message the channel refused because the window is closed (WhatsApp
// 131047): the refused message meets the closed window as a send of its node would, getting
// the window fallback (unless one already went out in this event) or continuing at the node's
// on_window_closed. The event's messages that were to follow are not sent: free-form ones are
// held (window.hold), templates come back in the result's Sends, after the fallback.
func (e *Engine) Refused(ctx context.Context, conv Conversation, st *State, rf Refusal, now time.Time) *Result {
	r := e.newRun(ctx, conv, st, nil, now)
	st.WindowClosed = true
	r.env.WindowOpen = false
	r.fellBack = rf.FellBack
	r.refused(rf.Send.Flow, rf.Send.Node, rf.Send.Message)
	r.fellBack = true // the refusal itself: the rest of the event is held
	r.res.FellBack = true
	for _, s := range rf.Rest {
		r.node = r.e.node(s.Flow, s.Node)
		if s.Message.FreeForm() {
			r.hold(s, "the channel refused an earlier message of this event")
			continue
		}
		r.trace(TraceSend, r.nodeID(), s.Message.Type())
		r.res.Sends = append(r.res.Sends, s)
	}
	return r.res
}

// stepOf is the node's step; nil for no node.
func (n *Node) stepOf() step {
	if n == nil {
		return nil
	}
	return n.step
}

// node returns a flow's node by name, or nil.
func (e *Engine) node(flow, node string) *Node {
	if f := e.flows[flow]; f != nil {
		return f.index[node]
	}
	return nil
}

func (r *run) refused(flow, node string, m msg.Message) {
	n := r.e.node(flow, node)
	r.node = n
	if !m.FreeForm() || n == nil {
		r.tracef(TraceWindowClosed, r.nodeID(), "%s message refused", m.Type())
		return
	}
	var own *fallback
	var tag string
	var onClosed *Node
	if s, ok := n.step.(sender); ok {
		own, tag, onClosed = s.window()
	}
	if !r.send(n, m, tag, own) && onClosed != nil {
		r.exec(onClosed)
	}
}

// status applies a delivery receipt.
func (r *run) status(s *msg.Status) {
	if s.MessageID == "" && !s.Watermark.IsZero() {
		r.watermark(s)
		return
	}
	rec := r.st.sent(s.MessageID)
	if rec == nil {
		r.tracef(TraceStatus, "", "%s for unknown message %s", s.State, s.MessageID)
		return
	}
	if statusRank(s.State) > statusRank(rec.Status) {
		rec.Status = s.State
	}
	r.tracef(TraceStatus, rec.Flow+"/"+rec.Node, "%s", s.State)
	if s.State == msg.StatusFailed && s.WindowClosed {
		r.st.WindowClosed = true
		r.env.WindowOpen = false
		if r.st.OptedOut {
			return
		}
		// The refused message itself is gone; rebuild what the node sent to decide the fallback.
		// Nodes other than reply and template nodes send texts (retry and handoff messages).
		m := msg.Message{Text: &msg.Text{}}
		if s, ok := r.e.node(rec.Flow, rec.Node).stepOf().(sender); ok {
			m = s.message(r)
		}
		r.refused(rec.Flow, rec.Node, m)
	}
}

// watermark applies a receipt for every message sent before a time (Messenger's read and
// delivery watermarks). The outbound records keep no send time, so it moves all of them on:
// they are the last few messages, and the receipt comes after the user saw them.
func (r *run) watermark(s *msg.Status) {
	n := 0
	for i := range r.st.Outbox {
		if rec := &r.st.Outbox[i]; statusRank(s.State) > statusRank(rec.Status) {
			rec.Status = s.State
			n++
		}
	}
	r.tracef(TraceStatus, "", "%s up to %s: %d message(s)", s.State, s.Watermark.UTC().Format(time.RFC3339), n)
}

// statusRank orders delivery states so that late or repeated receipts never move a message back.
func statusRank(s string) int {
	switch s {
	case msg.StatusSent:
		return 1
	case msg.StatusDelivered:
		return 2
	case msg.StatusRead, msg.StatusPlayed:
		return 3
	case msg.StatusFailed:
		return 4
	}
	return 0
}

// exec runs from node n until a node ends the run, waits, or the step limit is reached.
func (r *run) exec(n *Node) {
	max := r.e.settings.MaxSteps
	if max <= 0 {
		max = 100
	}
	var flow *Flow
	for steps := 0; n != nil; steps++ {
		if n.flow != flow {
			flow = n.flow
			r.defaults(flow)
		}
		if steps == max {
			r.tracef(TraceLoop, r.nodeID(), "stopped after %d steps (max_steps_per_event)", max)
			r.clearWait()
			return
		}
		if err := r.ctx.Err(); err != nil {
			r.tracef(TraceError, r.nodeID(), "run cancelled: %v", err)
			return
		}
		if r.budget.over != "" { // a trigger's expression ran out before the first node
			return
		}
		r.node = n
		r.trace(TraceNode, n.path, n.Type)
		n = n.step.exec(r, n)
		if r.budget.over != "" {
			r.clearWait()
			return
		}
	}
}

// defaults gives the conversation the flow's vars it does not have yet, on entering the flow.
func (r *run) defaults(f *Flow) {
	for k, v := range f.Vars {
		if _, ok := r.st.Vars[k]; !ok {
			r.st.Vars[k] = v
		}
	}
}

// windowOpen applies the window rule: free-form messages only until 24 hours after the user's
// last message, less the configured margin, unless the channel said it is closed.
func (r *run) windowOpen() bool {
	if r.st.WindowClosed || r.st.LastMessageTime == 0 {
		return false
	}
	end := time.Unix(r.st.LastMessageTime, 0).Add(24*time.Hour - r.e.settings.WindowMargin)
	return r.now.Before(end)
}

// tagAllowed reports whether the node's message tag lets a message out after the window: where
// the channel takes the tag, HUMAN_AGENT for 7 days after the user's last message, the other
// tags without limit.
func (r *run) tagAllowed(tag string) bool {
	if l, ok := r.e.limits[r.conv.Channel]; tag == "" || !ok || !slices.Contains(l.Tags, tag) {
		return false
	}
	if tag == "HUMAN_AGENT" {
		return r.st.LastMessageTime > 0 && r.now.Before(time.Unix(r.st.LastMessageTime, 0).Add(7*24*time.Hour))
	}
	return true
}

// send emits m from node n under the window policy. Outside the window a free-form message
// goes out with the node's message tag where the channel allows it, or is replaced by the
// first window fallback template of node, flow and bundle; with none it is dropped and
// recorded. send reports whether anything went out.
func (r *run) send(n *Node, m msg.Message, tag string, own *fallback) bool {
	if !m.FreeForm() || r.windowOpen() {
		r.emit(n, m)
		return true
	}
	if r.tagAllowed(tag) {
		m.Tag = tag
		r.emit(n, m)
		return true
	}
	if r.fellBack {
		return r.hold(sendOf(n, m), "a fallback template already went out for this event")
	}
	fb := own
	if fb == nil && n != nil {
		fb = n.flow.fallback
	}
	if fb == nil {
		fb = r.e.fallback
	}
	if l, ok := r.e.limits[r.conv.Channel]; ok && !l.Templates {
		fb = nil // a channel without templates: a closed window means a tag or nothing
	}
	if fb == nil {
		r.tracef(TraceWindowClosed, r.nodeID(), "%s message not sent: window closed and no fallback template", m.Type())
		return false
	}
	fm := msg.Message{Template: buildTemplate(fb.cfg, r.strs(fb.texts)), NoRetryOnRateLimit: m.NoRetryOnRateLimit}
	r.tracef(TraceFallback, r.nodeID(), "window closed: template %s instead of %s", fb.cfg.Name, m.Type())
	r.emit(n, fm)
	r.fellBack, r.res.FellBack = true, true
	return true
}

// fallback is a compiled template sent in place of a free-form message when the window is
// closed: a node's fallback_template, a flow's window_fallback, the bundle's
// window.fallback_template.
type fallback struct {
	cfg   *TemplateConfig
	texts []text
}

// sendOf is the Send of message m from node n (nil for an agent's message).
func sendOf(n *Node, m msg.Message) Send {
	s := Send{Message: m}
	if n != nil {
		s.Flow, s.Node = n.flow.Name, n.ID
	}
	return s
}

// hold keeps a free-form message that the closed window stopped after the event's fallback,
// to be delivered when the user's next message opens the window (window.hold); why says what
// stopped it. It reports whether the message was kept (or suppressed for an opted-out user):
// false means it is gone, and the run takes the node's on_window_closed.
func (r *run) hold(s Send, why string) bool {
	m := &s.Message
	set := r.e.settings
	if !set.Hold || set.HoldMessages <= 0 {
		r.tracef(TraceWindowClosed, r.nodeID(), "%s message not sent: window closed, and %s", m.Type(), why)
		return false
	}
	if r.st.OptedOut {
		r.tracef(TraceSuppressed, r.nodeID(), "opted out: %s message not sent", m.Type())
		return true
	}
	m.To = ""
	r.tracef(TraceWindowClosed, r.nodeID(), "%s message held until the user writes again: window closed, and %s", m.Type(), why)
	st := r.st
	st.Held = append(st.Held, Held{Send: s, At: r.now.Unix()})
	r.expireHeld()
	if over := len(st.Held) - set.HoldMessages; over > 0 {
		for _, h := range st.Held[:over] {
			r.tracef(TraceHeld, h.Flow+"/"+h.Node, "%s message dropped unsent: more than %d held", h.Message.Type(), set.HoldMessages)
		}
		st.Held = append(st.Held[:0], st.Held[over:]...)
	}
	return true
}

// expireHeld drops the held messages older than window.hold_for.
func (r *run) expireHeld() {
	st, hf := r.st, r.e.settings.HoldFor
	if hf <= 0 {
		return
	}
	keep := st.Held[:0]
	for _, h := range st.Held {
		if r.now.Before(time.Unix(h.At, 0).Add(hf)) {
			keep = append(keep, h)
			continue
		}
		r.tracef(TraceHeld, h.Flow+"/"+h.Node, "%s message dropped unsent: held since %s, longer than %s", h.Message.Type(), time.Unix(h.At, 0).UTC().Format(time.RFC3339), hf)
	}
	clear(st.Held[len(keep):])
	st.Held = keep
}

// deliverHeld sends the held messages, in order, once the user's message has opened the
// window again; those held too long are dropped.
func (r *run) deliverHeld() {
	if len(r.st.Held) == 0 {
		return
	}
	r.expireHeld()
	if len(r.st.Held) == 0 || !r.windowOpen() {
		return
	}
	for _, h := range r.st.Held {
		r.node = r.e.node(h.Flow, h.Node)
		r.tracef(TraceHeld, h.Flow+"/"+h.Node, "%s message delivered, held since %s", h.Message.Type(), time.Unix(h.At, 0).UTC().Format(time.RFC3339))
		r.emitSend(h.Send)
	}
	r.node = nil
	r.st.Held = nil
}

// dropHeld drops the held messages unsent.
func (r *run) dropHeld(why string) {
	for _, h := range r.st.Held {
		r.tracef(TraceHeld, h.Flow+"/"+h.Node, "%s message dropped unsent: %s", h.Message.Type(), why)
	}
	r.st.Held = nil
}

// emit appends message m of node n to the result, unless the user opted out.
func (r *run) emit(n *Node, m msg.Message) {
	r.emitSend(sendOf(n, m))
}

// emitSend appends s to the result, addressed to the user, unless the user opted out.
func (r *run) emitSend(s Send) {
	if r.budget.over != "" {
		return // the run ended while the message was being built: it is not sent half-made
	}
	if r.st.OptedOut {
		r.tracef(TraceSuppressed, r.nodeID(), "opted out: %s message not sent", s.Message.Type())
		return
	}
	s.Message.To, s.Message.Phone = r.conv.User, r.st.Phone
	if t := s.Message.Template; t != nil && r.e.categories[t.Name+"\x00"+t.Language] == "authentication" {
		t.Authentication = true
	}
	if l, ok := r.e.limits[r.conv.Channel]; ok {
		fitMessage(&s.Message, l)
		if s.Message.Text != nil {
			t := *s.Message.Text
			r.capText(&t, l)
			s.Message.Text = &t
		}
	}
	r.trace(TraceSend, r.nodeID(), s.Message.Type())
	r.res.Sends = append(r.res.Sends, s)
}

// strs returns the strFunc that renders compiled texts in order.
func (r *run) strs(texts []text) strFunc {
	i := 0
	return func(string, ...string) string {
		if i >= len(texts) {
			return ""
		}
		t := texts[i]
		i++
		return r.render(t)
	}
}

// renderValue interpolates the strings inside a compiled http body.
func (r *run) renderValue(v any) any {
	switch x := v.(type) {
	case text:
		return r.render(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = r.renderValue(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = r.renderValue(e)
		}
		return out
	}
	return v
}

// setVar stores a variable as KeepVar keeps it. A value it refuses leaves the variable as it
// was, the trace says why, and setVar reports false: the node fails.
func (r *run) setVar(name string, v any) bool {
	s, err := r.e.KeepVar(v)
	if err != nil {
		r.tracef(TraceError, r.nodeID(), "vars.%s not set: %v", name, err)
		return false
	}
	r.st.Vars[name] = s
	return true
}

func (r *run) clearWait() {
	r.st.Flow, r.st.Node, r.st.Attempts, r.st.Timeout = "", "", 0, 0
}

// expire clears a wait that has been idle longer than the session timeout.
func (r *run) expire() {
	st := r.st
	if !st.Waiting() || r.e.settings.SessionTimeout <= 0 {
		return
	}
	if r.now.Unix() >= r.e.sessionEnd(st) {
		r.tracef(TraceExpired, st.Flow+"/"+st.Node, "idle since %s", time.Unix(st.Active, 0).UTC().Format(time.RFC3339))
		r.clearWait()
	}
}

// sessionEnd is when a wait expires for inactivity (Unix seconds), or zero without a session
// timeout.
func (e *Engine) sessionEnd(st *State) int64 {
	if e.settings.SessionTimeout <= 0 {
		return 0
	}
	return st.Active + int64(e.settings.SessionTimeout/time.Second)
}

func (e *Engine) waitingNode(st *State) *Node {
	if f := e.flows[st.Flow]; f != nil {
		if n := f.index[st.Node]; n != nil {
			if _, ok := n.step.(waiter); ok {
				return n
			}
		}
	}
	return nil
}

func (r *run) nodeID() string {
	if r.node == nil {
		return ""
	}
	return r.node.path
}

// unmatched describes an event no trigger matched, for the trace: its text, or the id of the
// button or list row, or its kind.
func unmatched(ev *msg.Event) string {
	switch {
	case ev.Kind == msg.KindText:
		return fmt.Sprintf("%q", ev.Text)
	case ev.Button != nil:
		return fmt.Sprintf("%s %q", ev.Kind, ev.Button.ID)
	case ev.List != nil:
		return fmt.Sprintf("list row %q", ev.List.ID)
	}
	return "a " + string(ev.Kind) + " message"
}

// trace records an entry whose detail needs no formatting: the common case, kept cheap.
func (r *run) trace(k TraceKind, node, detail string) {
	r.res.Trace = append(r.res.Trace, TraceEntry{Kind: k, Node: node, Detail: detail})
}

func (r *run) tracef(k TraceKind, node, format string, args ...any) {
	r.res.Trace = append(r.res.Trace, TraceEntry{Kind: k, Node: node, Detail: fmt.Sprintf(format, args...)})
}

func (f *Flow) start() *Node {
	if f.Start != "" {
		return f.index[f.Start]
	}
	return nil
}

// Agent sends a human agent's message as the business, under the window rules: within the
// window it goes out as it is; after it, on Messenger and Instagram with the HUMAN_AGENT tag
// while that allows, else the bundle's window fallback template takes its place, or nothing
// goes out and the trace says why.
func (e *Engine) Agent(ctx context.Context, conv Conversation, st *State, m msg.Message, now time.Time) *Result {
	r := e.newRun(ctx, conv, st, nil, now)
	r.tracef(TraceAgent, "", "%s message from an agent", m.Type())
	r.send(nil, m, "HUMAN_AGENT", nil)
	return r.res
}

// Release ends a handoff: the bot answers the conversation's next events again.
func (e *Engine) Release(ctx context.Context, conv Conversation, st *State, now time.Time) *Result {
	r := e.newRun(ctx, conv, st, nil, now)
	if st.Handoff == "" {
		r.tracef(TraceHandoff, "", "not in handoff: nothing to release")
		return r.res
	}
	r.tracef(TraceHandoff, "", "released from queue %s", st.Handoff)
	st.Handoff = ""
	st.Active = now.Unix()
	return r.res
}

// rememberContact keeps what a message tells about the user's identity: the phone number when
// the conversation is keyed by another id (a business-scoped user id; replies then go to the
// phone), the user id and the username. A changed number (msg.SystemNumberChanged) becomes the
// phone replies go to.
func rememberContact(conv Conversation, st *State, ev *msg.Event) {
	c := ev.Contact
	phone := c.Phone
	if ev.System != nil && ev.System.Type == msg.SystemNumberChanged && ev.System.NewID != "" {
		phone = ev.System.NewID
	}
	switch {
	case strings.TrimPrefix(phone, "+") == strings.TrimPrefix(conv.User, "+"):
		st.Phone = ""
	case phone != "":
		st.Phone = phone
	}
	if c.UserID != "" {
		st.UserID = c.UserID
	}
	if c.Username != "" {
		st.Username = c.Username
	}
}
