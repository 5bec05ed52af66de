package messenger

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/providers/channel"
	"github.com/flowgate/flowgate/providers/meta"
)

// ErrNotPlatform is returned, wrapped, by Parse for a JSON body that is not a webhook of the
// platform (another "object").
var ErrNotPlatform = errors.New("not a webhook of this channel")

const malformedTitle = "malformed message"

// Parse turns a webhook body into normalized events. It returns an error only when the body
// is not JSON or its object is not the platform's; an entry or item it cannot read becomes an
// event of its own (KindError, KindUnsupported) and the rest of the body is kept. See the
// package documentation for what each item becomes.
func (p *Platform) Parse(body []byte) ([]msg.Event, error) {
	var env wireEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("%s: parsing webhook: %w", p.Name, err)
	}
	if env.Object != p.Object {
		return nil, fmt.Errorf("%s: parsing webhook: object %q, want %q: %w", p.Name, env.Object, p.Object, ErrNotPlatform)
	}
	var events []msg.Event
	for _, raw := range env.Entry {
		var e wireEntry
		if err := json.Unmarshal(raw, &e); err != nil {
			events = append(events, p.malformedEntry(err))
			continue
		}
		if n := len(events) + len(e.Messaging) + len(e.Standby); n > channel.MaxEventsPerBody {
			return nil, channel.TooManyEvents(p.Name, n)
		}
		account, at := string(e.ID), time.Time(e.Time)
		for _, r := range e.Messaging {
			events = p.item(events, account, at, r, false)
		}
		for _, r := range e.Standby {
			events = p.item(events, account, at, r, true)
		}
	}
	return events, nil
}

// item appends the events of one messaging[] item. Items of the business's own (echoes) are
// skipped; so are, in standby[] (another app owns the thread), all but receipts, and items
// that carry no conversation event (handover, policy enforcement, account linking).
func (p *Platform) item(events []msg.Event, account string, at time.Time, raw json.RawMessage, standby bool) []msg.Event {
	var it wireItem
	if err := json.Unmarshal(raw, &it); err != nil {
		return append(events, p.malformedItem(account, at, raw, err))
	}
	if account == "" {
		account = string(it.Recipient.ID)
	}
	from := string(it.Sender.ID)
	if from == "" {
		from = it.Sender.UserRef // chat plugin users
	}
	if from != "" && from == account {
		return events // the business's own message: an echo
	}
	ev := msg.Event{Channel: p.Name, Account: account, From: from, Contact: msg.Contact{ID: from}, Time: time.Time(it.Timestamp)}
	if ev.Time.IsZero() {
		ev.Time = at
	}
	switch {
	case it.Delivery != nil:
		return p.delivery(events, ev, it.Delivery)
	case it.Read != nil:
		return append(events, receipt(ev, msg.StatusRead, it.Read.Mid, time.Time(it.Read.Watermark)))
	case standby:
		return events
	case it.Message != nil:
		if it.Message.IsEcho {
			return events
		}
		return p.message(events, ev, it.Message)
	case it.Postback != nil:
		return append(events, postback(ev, it.Postback))
	case it.Reaction != nil:
		return append(events, reaction(ev, it.Reaction))
	case it.Referral != nil:
		ev.Kind, ev.ID, ev.Referral = msg.KindReferral, "referral:"+stamp(ev.Time), convReferral(it.Referral)
		return append(events, ev)
	case it.Optin != nil:
		o := it.Optin
		body := o.Payload
		if body == "" {
			body = o.Ref
		}
		ev.Kind, ev.ID = msg.KindSystem, "optin:"+stamp(ev.Time)
		ev.System = &msg.System{Type: "optin", Body: body, Subject: o.Title}
		return append(events, ev)
	}
	return events
}

// stamp is a time as Unix milliseconds, for the ids of events that have no id of their own.
func stamp(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// message appends the events of a user's message: its text (or quick reply), then one event
// per attachment. The first event has the message's mid as its id, the next ones mid#2, mid#3...
func (p *Platform) message(events []msg.Event, ev msg.Event, m *wireMessage) []msg.Event {
	ev.ID = m.Mid
	ev.Referral = convReferral(m.Referral)
	if r := m.ReplyTo; r != nil {
		c := &msg.Context{ReplyTo: r.Mid}
		if r.Story != nil && c.ReplyTo == "" {
			c.ReplyTo = string(r.Story.ID) // a reply to the user's view of our story
		}
		if c.ReplyTo != "" {
			ev.Context = c
		}
	}
	switch {
	case m.IsDeleted:
		ev.Kind, ev.ID, ev.Context, ev.Referral = msg.KindDeleted, m.Mid+":deleted", nil, nil
		return append(events, ev)
	case m.IsUnsupported:
		ev.Kind, ev.Unsupported = msg.KindUnsupported, "unsupported"
		return append(events, ev)
	case m.QuickReply != nil:
		id, list, _ := readPayload(m.QuickReply.Payload)
		if list {
			ev.Kind, ev.List = msg.KindList, &msg.ListReply{ID: id, Title: m.Text}
		} else {
			ev.Kind, ev.Button = msg.KindButton, &msg.Reply{ID: id, Title: m.Text}
		}
		return append(events, ev)
	}
	n := 0
	add := func(e msg.Event) {
		n++
		if n > 1 {
			e.ID = m.Mid + "#" + strconv.Itoa(n)
		}
		events = append(events, e)
	}
	if m.Text != "" {
		e := ev
		e.Kind, e.Text = msg.KindText, m.Text
		add(e)
	}
	for _, a := range m.Attachments {
		e := ev
		if attachment(&e, a, m.Text != "") {
			add(e)
		}
	}
	if n == 0 {
		ev.Kind, ev.Unsupported = msg.KindUnsupported, "empty"
		ev.Errors = []msg.Error{{Title: malformedTitle, Message: "message without text or attachments"}}
		events = append(events, ev)
	}
	return events
}

// attachment fills e from one attachment and reports whether it is an event of its own (a
// shared link's fallback attachment beside the text that carries the link is not).
func attachment(e *msg.Event, a wireAttachment, hasText bool) bool {
	var pl wireAttachPayload
	if a.Payload != nil {
		pl = *a.Payload
	}
	media := func(typ, id string) {
		e.Kind, e.Media = msg.KindMedia, &msg.Media{Type: typ, ID: id, URL: pl.URL}
	}
	switch a.Type {
	case "image":
		if pl.StickerID != "" {
			media("sticker", string(pl.StickerID))
		} else {
			media("image", pl.URL)
		}
	case "video", "audio":
		media(a.Type, pl.URL)
	case "file":
		media("document", pl.URL)
	case "sticker":
		id := string(pl.StickerID)
		if id == "" {
			id = pl.URL
		}
		media("sticker", id)
	case "like_heart":
		media("sticker", "like_heart")
	case "story_mention":
		media("story_mention", pl.URL)
	case "location":
		if pl.Coordinates == nil {
			unsupported(e, a.Type, "a location without coordinates")
			return true
		}
		e.Kind = msg.KindLocation
		e.Location = &msg.Location{Latitude: float64(pl.Coordinates.Lat), Longitude: float64(pl.Coordinates.Long), Name: a.Title, URL: a.URL}
	case "fallback":
		switch {
		case hasText:
			return false
		case pl.URL != "":
			e.Kind, e.Text = msg.KindText, pl.URL
		default:
			unsupported(e, a.Type, "a shared item without a link")
		}
	default:
		unsupported(e, a.Type, fmt.Sprintf("attachment type %q is not supported by this provider", a.Type))
	}
	return true
}

func unsupported(e *msg.Event, typ, why string) {
	e.Kind, e.Unsupported = msg.KindUnsupported, typ
	e.Errors = append(e.Errors, msg.Error{Title: "Message type unknown", Message: why})
}

// postback is a tap on a postback button: a list row of a generic template Flowgate rendered,
// or a postback of the persistent menu, Get Started, an ice breaker.
func postback(ev msg.Event, pb *wirePostback) msg.Event {
	ev.ID = pb.Mid
	if ev.ID == "" { // before Graph v11.0 postbacks had no mid
		ev.ID = "postback:" + stamp(ev.Time) + ":" + pb.Payload
	}
	ev.Referral = convReferral(pb.Referral)
	id, list, prefixed := readPayload(pb.Payload)
	switch {
	case list:
		ev.Kind, ev.List = msg.KindList, &msg.ListReply{ID: id, Title: pb.Title}
	case prefixed:
		ev.Kind, ev.Button = msg.KindButton, &msg.Reply{ID: id, Title: pb.Title}
	default:
		ev.Kind, ev.Button = msg.KindPostback, &msg.Reply{ID: pb.Payload, Title: pb.Title}
	}
	return ev
}

// reaction is a reaction to one of our messages; an unreact removes it (empty Emoji).
func reaction(ev msg.Event, r *wireReaction) msg.Event {
	emoji := r.Emoji
	if emoji == "" {
		emoji = r.Reaction
	}
	if r.Action == "unreact" {
		emoji = ""
	}
	ev.Kind, ev.ID = msg.KindReaction, "reaction:"+r.Mid+":"+r.Action+":"+emoji
	ev.Reaction = &msg.Reaction{MessageID: r.Mid, Emoji: emoji}
	return ev
}

// delivery appends a delivery receipt per message id, or one watermark receipt when there are
// none.
func (p *Platform) delivery(events []msg.Event, ev msg.Event, d *wireDelivery) []msg.Event {
	if len(d.Mids) == 0 {
		return append(events, receipt(ev, msg.StatusDelivered, "", time.Time(d.Watermark)))
	}
	for _, mid := range d.Mids {
		events = append(events, receipt(ev, msg.StatusDelivered, mid, time.Time{}))
	}
	return events
}

// receipt is a status event for one message (Instagram's seen, Messenger's deliveries), or for
// every message before a watermark (Messenger's reads).
func receipt(ev msg.Event, state, mid string, watermark time.Time) msg.Event {
	ev.Kind = msg.KindStatus
	ev.Status = &msg.Status{MessageID: mid, State: state, Recipient: ev.From}
	if mid != "" {
		ev.ID = mid + ":" + state
		return ev
	}
	if watermark.IsZero() {
		watermark = ev.Time
	}
	ev.Status.Watermark = watermark
	ev.ID = state + "@" + stamp(watermark)
	return ev
}

func convReferral(r *wireReferral) *msg.Referral {
	if r == nil {
		return nil
	}
	out := &msg.Referral{Ref: r.Ref, SourceType: r.Source, SourceID: string(r.AdID), SourceURL: r.RefererURI}
	if d := r.AdsContextData; d != nil {
		out.Headline, out.ImageURL, out.VideoURL = d.AdTitle, d.PhotoURL, d.VideoURL
	}
	if *out == (msg.Referral{}) {
		return nil
	}
	return out
}

func (p *Platform) malformedEntry(err error) msg.Event {
	return msg.Event{Kind: msg.KindError, Channel: p.Name, Errors: []msg.Error{{
		Title: "malformed webhook", Message: "cannot read entry", Details: err.Error(),
	}}}
}

// malformedItem is the event of an item that could not be decoded: what can be read of its
// sender, time and message id, and why the rest could not.
func (p *Platform) malformedItem(account string, at time.Time, raw json.RawMessage, err error) msg.Event {
	var fields map[string]json.RawMessage
	_ = json.Unmarshal(raw, &fields)
	var sender struct {
		ID meta.FlexString `json:"id"`
	}
	var ts meta.FlexTime
	var m struct {
		Mid string `json:"mid"`
	}
	_ = json.Unmarshal(fields["sender"], &sender)
	_ = json.Unmarshal(fields["timestamp"], &ts)
	_ = json.Unmarshal(fields["message"], &m)
	ev := msg.Event{
		Kind: msg.KindUnsupported, Channel: p.Name, Account: account, ID: m.Mid,
		From: string(sender.ID), Contact: msg.Contact{ID: string(sender.ID)}, Time: time.Time(ts),
		Errors: []msg.Error{{Title: malformedTitle, Message: "cannot read messaging item", Details: err.Error()}},
	}
	if ev.Time.IsZero() {
		ev.Time = at
	}
	return ev
}
