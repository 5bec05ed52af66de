package server

import (
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/flowgate/flowgate/engine"
	"github.com/flowgate/flowgate/engine/msg"
)

// windowLength is the customer-service window after a user's last message.
const windowLength = 24 * time.Hour

// stateAnswer is a conversation's state as the admin API shows it.
type stateAnswer struct {
	Flow            string         `json:"flow"`
	Node            string         `json:"node"`
	Vars            map[string]any `json:"vars"`
	LastMessageTime *time.Time     `json:"last_message_time"` // null before the user's first message
	WindowOpen      bool           `json:"window_open"`
	OptedOut        bool           `json:"opted_out"`
	Handoff         string         `json:"handoff"` // the handoff queue; empty when the bot answers
	Outbox          []outboxEntry  `json:"outbox"`
	Held            []heldEntry    `json:"held"` // messages the closed window stopped, to go out when the user writes
}

// heldEntry is a message held for the user's next message.
type heldEntry struct {
	Type  string    `json:"type"`
	Flow  string    `json:"flow"`
	Node  string    `json:"node"`
	Since time.Time `json:"since"`
}

// outboxEntry is a recently sent message and its delivery status.
type outboxEntry struct {
	ID     string `json:"id"`
	Flow   string `json:"flow"`
	Node   string `json:"node"`
	Status string `json:"status"`
}

// state answers a conversation's state; 404 when it has none.
func (s *Server) state(c *gin.Context) {
	ep := s.apiEndpoint(c)
	if ep == nil {
		return
	}
	ch := ep.Channel
	conv := engine.Conversation{Tenant: ch.Tenant, Team: ch.Team, Channel: ch.Name, Account: ch.Account, User: c.Param("user")}
	ctx, cancel := apiContext(c)
	defer cancel()
	p := s.opts.Pipeline
	data, err := p.Store.Load(ctx, conv)
	if err != nil {
		s.log.Error("admin API: state not loaded", "channel", ch.Name, "user", conv.User, "err", err)
		apiError(c, http.StatusServiceUnavailable, "load conversation: %v", err)
		return
	}
	if data == nil {
		apiError(c, http.StatusNotFound, "no conversation with this user")
		return
	}
	st, err := engine.DecodeState(data)
	if err != nil {
		s.log.Error("admin API: state unreadable", "channel", ch.Name, "user", conv.User, "err", err)
		apiError(c, http.StatusInternalServerError, "conversation state unreadable: %v", err)
		return
	}
	out := stateAnswer{
		Flow: st.Flow, Node: st.Node, Vars: st.Vars, OptedOut: st.OptedOut, Handoff: st.Handoff,
		Outbox: make([]outboxEntry, 0, len(st.Outbox)), Held: make([]heldEntry, 0, len(st.Held)),
	}
	if out.Vars == nil {
		out.Vars = map[string]any{}
	}
	if st.LastMessageTime > 0 {
		t := time.Unix(st.LastMessageTime, 0).UTC()
		out.LastMessageTime = &t
		margin := p.Bundle().Engine.Settings().WindowMargin
		out.WindowOpen = !st.WindowClosed && s.now().Before(t.Add(windowLength-margin))
	}
	for _, o := range st.Outbox {
		out.Outbox = append(out.Outbox, outboxEntry(o))
	}
	for _, h := range st.Held {
		out.Held = append(out.Held, heldEntry{Type: h.Message.Type(), Flow: h.Flow, Node: h.Node, Since: time.Unix(h.At, 0).UTC()})
	}
	c.JSON(http.StatusOK, out)
}

// handoffAnswer is one conversation with a human agent.
type handoffAnswer struct {
	Channel string       `json:"channel"`
	Account string       `json:"account"`
	User    string       `json:"user"`
	Queue   string       `json:"queue"`
	Kept    []keptAnswer `json:"kept"`
}

// keptAnswer is an event kept while a conversation waits for an agent: what an agent needs
// to read it.
type keptAnswer struct {
	ID       string        `json:"id,omitempty"`
	Type     string        `json:"type"`
	Text     string        `json:"text,omitempty"` // the text, the chosen button or row, a caption
	Payload  string        `json:"payload,omitempty"`
	Time     string        `json:"time,omitempty"` // RFC 3339
	Name     string        `json:"name,omitempty"` // the user's profile name
	ReplyTo  string        `json:"reply_to,omitempty"`
	Media    *keptMedia    `json:"media,omitempty"`
	Location *keptLocation `json:"location,omitempty"`
}

// keptMedia is a kept event's attachment.
type keptMedia struct {
	Type     string `json:"type"`
	ID       string `json:"id,omitempty"`
	URL      string `json:"url,omitempty"`
	MimeType string `json:"mime_type,omitempty"`
	Filename string `json:"filename,omitempty"`
}

// keptLocation is a kept event's location.
type keptLocation struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
	Name      string  `json:"name,omitempty"`
	Address   string  `json:"address,omitempty"`
}

// handoffs lists a tenant and team's conversations with a human agent.
func (s *Server) handoffs(c *gin.Context) {
	tenant, team := c.Param("tenant"), c.Param("team")
	if !apiSite(c).teams[[2]string{tenant, team}] {
		apiError(c, http.StatusNotFound, "no channel account for %s/%s", tenant, team)
		return
	}
	ctx, cancel := apiContext(c)
	defer cancel()
	hs, err := s.opts.Pipeline.Handoffs(ctx, tenant, team)
	if err != nil {
		s.log.Error("admin API: handoffs not listed", "tenant", tenant, "team", team, "err", err)
		apiError(c, http.StatusServiceUnavailable, "%v", err)
		return
	}
	out := make([]handoffAnswer, 0, len(hs))
	for _, h := range hs {
		a := handoffAnswer{Channel: h.Conversation.Channel, Account: h.Conversation.Account, User: h.Conversation.User,
			Queue: h.Queue, Kept: make([]keptAnswer, 0, len(h.Kept))}
		for i := range h.Kept {
			a.Kept = append(a.Kept, kept(&h.Kept[i]))
		}
		out = append(out, a)
	}
	c.JSON(http.StatusOK, gin.H{"handoffs": out})
}

// kept summarizes an event for the agent side.
func kept(ev *msg.Event) keptAnswer {
	k := keptAnswer{ID: ev.ID, Type: string(ev.Kind), Text: ev.Text, Name: ev.Contact.Name}
	if !ev.Time.IsZero() {
		k.Time = ev.Time.UTC().Format(time.RFC3339)
	}
	if ev.Context != nil {
		k.ReplyTo = ev.Context.ReplyTo
	}
	switch {
	case ev.Button != nil:
		k.Text, k.Payload = ev.Button.Title, ev.Button.ID
	case ev.List != nil:
		k.Text, k.Payload = ev.List.Title, ev.List.ID
	case ev.FlowReply != nil:
		k.Text = ev.FlowReply.Body
	case ev.Media != nil:
		m := ev.Media
		k.Text = m.Caption
		k.Media = &keptMedia{Type: m.Type, ID: m.ID, URL: m.URL, MimeType: m.MimeType, Filename: m.Filename}
	case ev.Location != nil:
		l := ev.Location
		k.Text = l.Name
		k.Location = &keptLocation{Latitude: l.Latitude, Longitude: l.Longitude, Name: l.Name, Address: l.Address}
	case ev.Reaction != nil:
		k.Text, k.ReplyTo = ev.Reaction.Emoji, ev.Reaction.MessageID
	case ev.Order != nil:
		k.Text = ev.Order.Text
	case len(ev.Contacts) > 0:
		names := make([]string, 0, len(ev.Contacts))
		for _, sc := range ev.Contacts {
			names = append(names, sc.Name)
		}
		k.Text = strings.Join(names, ", ")
	}
	return k
}

// now is the pipeline's clock.
func (s *Server) now() time.Time {
	if p := s.opts.Pipeline; p != nil && p.Now != nil {
		return p.Now()
	}
	return time.Now()
}
