// Package devconsole is the dev console at /dev/: one page, embedded in the binary, that
// chats with the flows as WhatsApp users would, several contacts side by side, with each
// event's run trace beside the chat, each conversation's 24-hour window and a control that
// moves that conversation's clock forward, and "save as test", which downloads the
// conversation as a flowctl test case.
//
// The console takes no shortcut through the server: a message typed in the page is rendered
// as the webhook body WhatsApp would deliver, signed with the channel account's app secret,
// and posted to the server's own webhook route, so it meets the real signature check, parser,
// deduplication, queue, engine and renderer. What the flows sent comes back through the
// pipeline's reports (Observe). The page gets its updates over server-sent events.
//
// gtc serve mounts it in sandbox mode (gtc serve --sandbox, make run) or when asked with
// --dev-console; never by default: anyone who can open the page can post events as any user.
package devconsole

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/flowgate/flowgate/engine"
	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/flowtest"
	"github.com/flowgate/flowgate/pipeline"
	"github.com/flowgate/flowgate/providers/meta"
	"github.com/flowgate/flowgate/providers/whatsapp"
)

//go:embed static
var static embed.FS

// Channel is the channel the console plays.
const Channel = "whatsapp"

// Options configure a Console.
type Options struct {
	// Pipeline runs the conversations: the console reads their state from it and starts flows
	// and moves clocks through it.
	Pipeline *pipeline.Pipeline
	// Webhooks is the server's handler: each message typed in the page is posted, signed, to
	// its webhook route.
	Webhooks http.Handler
	// AppSecret returns the app secret that signs the webhooks of a channel account.
	AppSecret func(ch *pipeline.Channel) string
	// Graph, when set, is the fake Graph API the senders use (sandbox mode): the page shows
	// the request bodies it received. Without it, the page shows the bodies rendered again
	// from the messages.
	Graph *Graph
	// Sandbox says the conversations live in this process only (gtc serve --sandbox): the
	// page may move their clocks. Outside it they are real ones in a shared store, which
	// other processes serve and a restart keeps, and the page does not.
	Sandbox bool
	// Contacts are the contacts the page starts with, side by side in this order.
	Contacts []Contact
	Log      *slog.Logger
	// Now is the real clock; nil is time.Now.
	Now func() time.Time
}

// Console serves the dev console. Create it with New.
type Console struct {
	opts Options
	mux  *http.ServeMux

	mu      sync.Mutex
	convs   map[string]*conversation // by user id
	order   []string                 // user ids, in the order they were added
	problem string                   // why the last bundle reload failed; empty when it did not
	subs    map[chan event]struct{}

	closed    chan struct{} // closed by Close: the event streams end
	closeOnce sync.Once
}

// event is one server-sent event.
type event struct {
	name string
	data []byte
}

// New returns a console over the pipeline and webhook route of o.
func New(o Options) *Console {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	c := &Console{opts: o, mux: http.NewServeMux(), convs: map[string]*conversation{}, subs: map[chan event]struct{}{}, closed: make(chan struct{})}
	sub, _ := fs.Sub(static, "static")
	files := http.StripPrefix("/dev", http.FileServerFS(sub))
	c.mux.HandleFunc("GET /dev/events", c.events)
	c.mux.HandleFunc("GET /dev/api/conversations", c.conversations)
	c.mux.HandleFunc("POST /dev/api/contacts", c.addContact)
	c.mux.HandleFunc("POST /dev/api/send", c.send)
	c.mux.HandleFunc("POST /dev/api/advance", c.advance)
	c.mux.HandleFunc("POST /dev/api/start", c.start)
	c.mux.HandleFunc("GET /dev/api/case", c.saveCase)
	c.mux.HandleFunc("GET /dev/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		files.ServeHTTP(w, r)
	})
	for _, ct := range o.Contacts {
		c.addLocked(ct.User, ct.Name)
	}
	return c
}

// Contact is a WhatsApp user the console plays.
type Contact struct {
	User string // the phone number, as WhatsApp's wa_id: digits only
	Name string // the profile name
}

// Offset is how far a conversation's clock runs ahead of the real one: the sum of the
// console's advances for it. It is the pipeline's Offset.
func (c *Console) Offset(conv engine.Conversation) time.Duration {
	if conv.Channel != Channel {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cv := c.convs[conv.User]; cv != nil {
		return cv.offset
	}
	return 0
}

// Observe takes a report of the pipeline (its OnReport): what one event, start or timer of a
// console conversation did, and what it sent.
func (c *Console) Observe(rep *pipeline.Report) {
	if rep == nil || rep.Conversation.Channel != Channel {
		return
	}
	outs := make([]out, 0, len(rep.Outcomes))
	for _, o := range rep.Outcomes {
		outs = append(outs, c.outbound(o))
	}
	c.mu.Lock()
	cv := c.convs[rep.Conversation.User]
	if cv == nil {
		c.mu.Unlock()
		return
	}
	e := cv.pending()
	if e == nil {
		e = &entry{kind: kindTimer, at: c.nowLocked(cv)}
		cv.entries = append(cv.entries, e)
	}
	e.waiting = false
	e.outs = append(e.outs, outs...)
	e.trace = append(e.trace, rep.Trace...)
	if rep.Err != nil {
		e.errs = append(e.errs, rep.Err.Error())
	}
	if rep.Dropped != "" {
		e.errs = append(e.errs, "event dropped: "+rep.Dropped)
	}
	c.mu.Unlock()
	c.publish(rep.Conversation.User)
}

// outbound is what the page shows of one outcome: the request body the Graph API got.
func (c *Console) outbound(o pipeline.Outcome) out {
	r := out{m: o.Send.Message, Flow: o.Send.Flow, Node: o.Send.Node}
	if o.Err != nil {
		r.Error = o.Err.Error()
	}
	if c.opts.Graph != nil && len(o.IDs) > 0 {
		if b := c.opts.Graph.Body(o.IDs[0]); b != nil {
			r.Request = b
			return r
		}
	}
	if reqs, err := whatsapp.Render(&o.Send.Message); err == nil && len(reqs) > 0 {
		r.Request = reqs[0].Body
	}
	return r
}

// BundleLoaded tells the page whether the last (re)load of the bundle worked: err's text,
// with the file:line:col of each problem, is shown in the page until a load succeeds.
func (c *Console) BundleLoaded(err error) {
	c.mu.Lock()
	c.problem = ""
	if err != nil {
		c.problem = err.Error()
	}
	c.mu.Unlock()
	c.broadcast(c.bundleEvent())
}

// Close ends the pages' event streams, which would otherwise hold up the server's shutdown
// (register it with http.Server.RegisterOnShutdown).
func (c *Console) Close() { c.closeOnce.Do(func() { close(c.closed) }) }

// ServeHTTP serves the page and its API under /dev/.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.mux.ServeHTTP(w, r) }

// channel is the channel account the console plays: the bundle's WhatsApp account.
func (c *Console) channel() (*pipeline.Channel, error) {
	for _, ch := range c.opts.Pipeline.Bundle().Channels {
		if ch.Name == Channel {
			return ch, nil
		}
	}
	return nil, errors.New("the bundle serves no WhatsApp account: the console has nobody to talk to")
}

// userRE is what a contact's id must look like: a phone number, as WhatsApp's wa_id.
var userRE = regexp.MustCompile(`^[0-9]{5,20}$`)

func (c *Console) addContact(w http.ResponseWriter, r *http.Request) {
	var req struct{ User, Name string }
	if !decode(w, r, &req) {
		return
	}
	if !userRE.MatchString(req.User) {
		httpError(w, http.StatusBadRequest, "user: want a phone number of 5 to 20 digits, like 16505551234")
		return
	}
	c.mu.Lock()
	c.addLocked(req.User, req.Name)
	c.mu.Unlock()
	c.publish(req.User)
	w.WriteHeader(http.StatusNoContent)
}

func (c *Console) addLocked(user, name string) *conversation {
	if cv := c.convs[user]; cv != nil {
		if name != "" {
			cv.name = name
		}
		return cv
	}
	cv := &conversation{user: user, name: name}
	c.convs[user] = cv
	c.order = append(c.order, user)
	return cv
}

// conv returns the console's conversation with user, or answers 404.
func (c *Console) conv(w http.ResponseWriter, user string) *conversation {
	c.mu.Lock()
	defer c.mu.Unlock()
	cv := c.convs[user]
	if cv == nil {
		httpError(w, http.StatusNotFound, fmt.Sprintf("no contact %q: add it first", user))
	}
	return cv
}

// target returns the conversation with user and the channel account it is on, or answers
// the error and returns nils.
func (c *Console) target(w http.ResponseWriter, user string) (*conversation, *pipeline.Channel) {
	cv := c.conv(w, user)
	if cv == nil {
		return nil, nil
	}
	ch, err := c.channel()
	if err != nil {
		httpError(w, http.StatusConflict, err.Error())
		return nil, nil
	}
	return cv, ch
}

// sendRequest is a message typed or tapped in the page.
type sendRequest struct {
	User     string
	Text     string
	Button   *msg.Reply     // a reply button (or a template's quick reply) tapped
	List     *msg.ListReply // a list row picked
	Location *msg.Location
}

func (c *Console) send(w http.ResponseWriter, r *http.Request) {
	var req sendRequest
	if !decode(w, r, &req) {
		return
	}
	cv, ch := c.target(w, req.User)
	if cv == nil {
		return
	}
	c.mu.Lock()
	cv.seq++
	at := c.nowLocked(cv).Truncate(time.Second)
	ev := &msg.Event{Channel: Channel, Account: ch.Account, From: cv.user, ID: fmt.Sprintf("wamid.console.%s.%d.%d", cv.user, c.opts.Now().UnixNano(), cv.seq),
		Time: at, Contact: msg.Contact{Name: cv.name}}
	e := &entry{kind: kindSend, at: at, waiting: true}
	switch {
	case req.Button != nil:
		ev.Kind, ev.Button = msg.KindButton, req.Button
		e.send = &flowtest.SendStep{Button: req.Button.ID}
		e.label = req.Button.Title
	case req.List != nil:
		ev.Kind, ev.List = msg.KindList, req.List
		e.send = &flowtest.SendStep{List: req.List.ID}
		e.label = req.List.Title
	case req.Location != nil:
		ev.Kind, ev.Location = msg.KindLocation, req.Location
		l := req.Location
		e.send = &flowtest.SendStep{Location: &flowtest.LocationValue{Latitude: l.Latitude, Longitude: l.Longitude, Name: l.Name, Address: l.Address}}
		e.label = "location: " + l.Name
	case strings.TrimSpace(req.Text) != "":
		ev.Kind, ev.Text = msg.KindText, req.Text
		e.send = &flowtest.SendStep{Text: req.Text}
		e.label = req.Text
	default:
		c.mu.Unlock()
		httpError(w, http.StatusBadRequest, "send: give text, button, list or location")
		return
	}
	if cv.name != "" {
		e.send.Name = cv.name
	}
	cv.entries = append(cv.entries, e)
	c.mu.Unlock()

	status, answer := c.deliver(r.Context(), ch, ev)
	if status != http.StatusOK {
		c.mu.Lock()
		e.waiting = false
		e.errs = append(e.errs, fmt.Sprintf("the webhook route answered %d: %s", status, answer))
		c.mu.Unlock()
	}
	c.publish(cv.user)
	if status != http.StatusOK {
		httpError(w, http.StatusBadGateway, fmt.Sprintf("webhook answered %d: %s", status, answer))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// deliver posts ev to the server's webhook route as WhatsApp would: the body WhatsApp
// delivers for it, signed with the account's app secret.
func (c *Console) deliver(ctx context.Context, ch *pipeline.Channel, ev *msg.Event) (int, string) {
	body, err := whatsapp.WebhookBody(ev)
	if err != nil {
		return http.StatusBadRequest, err.Error()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "/webhook/"+ch.Name+"/"+ch.Tenant+"/"+ch.Team, bytes.NewReader(body))
	if err != nil {
		return http.StatusInternalServerError, err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hub-Signature-256", meta.SignatureHeaderValue(body, c.opts.AppSecret(ch)))
	rec := httptest.NewRecorder()
	c.opts.Webhooks.ServeHTTP(rec, req)
	return rec.Code, strings.TrimSpace(rec.Body.String())
}

// maxAdvance bounds one move of a conversation's clock.
const maxAdvance = 400 * 24 * time.Hour

func (c *Console) advance(w http.ResponseWriter, r *http.Request) {
	var req struct{ User, By string }
	if !decode(w, r, &req) {
		return
	}
	if !c.opts.Sandbox {
		// The offset lives in this process only: other processes on the same store, and this
		// one after a restart, would run the conversation on the real clock again, with the
		// moved timestamps already saved in its state.
		httpError(w, http.StatusConflict, "clocks move only in the sandbox (gtc serve --sandbox): these are real conversations")
		return
	}
	d, err := time.ParseDuration(req.By)
	if err != nil || d <= 0 || d > maxAdvance {
		httpError(w, http.StatusBadRequest, fmt.Sprintf("by: %q: want a positive duration up to %s, like 25h or 90m", req.By, maxAdvance))
		return
	}
	cv, ch := c.target(w, req.User)
	if cv == nil {
		return
	}
	c.mu.Lock()
	e := &entry{kind: kindAdvance, at: c.nowLocked(cv), advance: d, label: "+" + engine.FormatDuration(d), waiting: true}
	cv.entries = append(cv.entries, e)
	cv.offset += d
	c.mu.Unlock()
	// The timers that fell due in the time skipped fire now, as flowctl test's advance fires
	// them: the conversation is ticked at its new time.
	_, err = c.opts.Pipeline.Direct(r.Context(), ch, cv.user, func(eng *engine.Engine, conv engine.Conversation, st *engine.State, now time.Time) (*engine.Result, error) {
		return eng.Tick(r.Context(), conv, st, now), nil
	})
	c.settle(e, err)
	c.publish(cv.user)
	if err != nil {
		httpError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (c *Console) start(w http.ResponseWriter, r *http.Request) {
	var req struct {
		User, Flow string
		Vars       map[string]any
	}
	if !decode(w, r, &req) {
		return
	}
	cv, ch := c.target(w, req.User)
	if cv == nil {
		return
	}
	c.mu.Lock()
	e := &entry{kind: kindStart, at: c.nowLocked(cv), flow: req.Flow, vars: req.Vars, label: req.Flow, waiting: true}
	cv.entries = append(cv.entries, e)
	c.mu.Unlock()
	_, err := c.opts.Pipeline.Start(r.Context(), ch, cv.user, req.Flow, "", req.Vars)
	c.settle(e, err)
	c.publish(cv.user)
	if err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, pipeline.ErrInvalid) {
			status = http.StatusBadRequest
		}
		httpError(w, status, err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// settle closes an entry whose work ran synchronously: its report has been observed, or
// there was none.
func (c *Console) settle(e *entry, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e.waiting = false
	if err != nil && len(e.errs) == 0 {
		e.errs = append(e.errs, err.Error())
	}
}

func (c *Console) conversations(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	views := make([]convView, 0, len(c.order))
	for _, u := range c.order {
		views = append(views, c.viewLocked(r.Context(), c.convs[u]))
	}
	c.mu.Unlock()
	writeJSON(w, views)
}

func (c *Console) saveCase(w http.ResponseWriter, r *http.Request) {
	user := r.URL.Query().Get("user")
	cv := c.conv(w, user)
	if cv == nil {
		return
	}
	c.mu.Lock()
	data, err := cv.testCase()
	c.mu.Unlock()
	if err != nil {
		httpError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/yaml; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="console_%s.test.yaml"`, cv.user))
	w.Write(data)
}

// nowLocked is the conversation's clock: the real time plus its offset.
func (c *Console) nowLocked(cv *conversation) time.Time {
	return c.opts.Now().UTC().Add(cv.offset)
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	if err := dec.Decode(v); err != nil {
		httpError(w, http.StatusBadRequest, "request body: "+err.Error())
		return false
	}
	return true
}

func httpError(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": text})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
