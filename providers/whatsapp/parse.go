package whatsapp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/providers/channel"
	"github.com/flowgate/flowgate/providers/meta"
)

// ObjectWhatsApp is the "object" of every WhatsApp Business Account webhook.
const ObjectWhatsApp = "whatsapp_business_account"

// Webhook fields this package turns into events.
const (
	FieldMessages              = "messages"
	FieldTemplateStatusUpdate  = "message_template_status_update"
	unsupportedMalformedTitle  = "malformed message"
	errMalformedWebhookTitle   = "malformed webhook"
	codeUnsupportedMessageType = 131051
)

// ErrNotWhatsApp is returned, wrapped, by Parse for a JSON body that is not a WhatsApp Business
// Account webhook.
var ErrNotWhatsApp = errors.New("not a WhatsApp Business Account webhook")

// Parse turns a webhook body into normalized events. It returns an error only when the body is
// not JSON or not a WhatsApp Business Account envelope; any part it cannot read becomes an
// event (KindUnsupported for a message, KindError otherwise) and the rest of the batch is kept.
// See the package documentation for the identity, time and deduplication rules.
//
// A well-formed body is decoded in one pass; only when that fails is it decoded again item by
// item, so that the odd item costs its own event and nothing else. Both paths build events with
// the same functions and give the same result (FuzzParse checks it).
func Parse(body []byte) ([]msg.Event, error) {
	var env fastEnvelope
	if json.Unmarshal(body, &env) != nil {
		return parseLenient(body)
	}
	if env.Object != ObjectWhatsApp {
		return nil, fmt.Errorf("whatsapp: parsing webhook: object %q: %w", env.Object, ErrNotWhatsApp)
	}
	if n := countEvents(&env); n > channel.MaxEventsPerBody {
		return nil, channel.TooManyEvents("whatsapp", n)
	}
	var events []msg.Event
	for i := range env.Entry {
		entry := &env.Entry[i]
		account, at := string(entry.ID), time.Time(entry.Time)
		for j := range entry.Changes {
			ch := &entry.Changes[j]
			v := ch.Value
			if v == nil { // no value, or null: nothing to report
				continue
			}
			switch ch.Field {
			case FieldMessages:
				var md wireMetadata
				if v.Metadata != nil {
					md = *v.Metadata
				}
				p := newValueParser(string(md.PhoneNumberID), account, v.Contacts)
				for k := range v.Messages {
					events = append(events, p.message(&v.Messages[k], nil))
				}
				for k := range v.Statuses {
					events = append(events, p.status(&v.Statuses[k]))
				}
				if len(v.Errors) > 0 {
					events = append(events, p.valueErrors(at, convErrors(v.Errors)))
				}
			case FieldTemplateStatusUpdate:
				events = append(events, templateEvent(account, at, &v.wireTemplateStatus))
			}
		}
	}
	return events, nil
}

// countEvents is how many events Parse makes of a decoded body, counted before it builds them.
func countEvents(env *fastEnvelope) int {
	n := 0
	for i := range env.Entry {
		for _, ch := range env.Entry[i].Changes {
			switch v := ch.Value; {
			case v == nil:
			case ch.Field == FieldMessages:
				n += len(v.Messages) + len(v.Statuses) + min(len(v.Errors), 1)
			case ch.Field == FieldTemplateStatusUpdate:
				n++
			}
		}
	}
	return n
}

// parseLenient decodes the body level by level and item by item.
func parseLenient(body []byte) ([]msg.Event, error) {
	var env wireEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("whatsapp: parsing webhook: %w", err)
	}
	if env.Object != ObjectWhatsApp {
		return nil, fmt.Errorf("whatsapp: parsing webhook: object %q: %w", env.Object, ErrNotWhatsApp)
	}
	var events []msg.Event
	for _, rawEntry := range env.Entry {
		var entry wireEntry
		if err := json.Unmarshal(rawEntry, &entry); err != nil {
			events = append(events, malformed("", time.Time{}, "entry", err))
			continue
		}
		for _, rawChange := range entry.Changes {
			if events = parseChange(events, &entry, rawChange); len(events) > channel.MaxEventsPerBody {
				return nil, channel.TooManyEvents("whatsapp", len(events))
			}
		}
	}
	return events, nil
}

func parseChange(events []msg.Event, entry *wireEntry, raw json.RawMessage) []msg.Event {
	account, at := string(entry.ID), time.Time(entry.Time)
	var ch wireChange
	if err := json.Unmarshal(raw, &ch); err != nil {
		return append(events, malformed(account, at, "change", err))
	}
	if v := bytes.TrimSpace(ch.Value); len(v) == 0 || string(v) == "null" {
		return events // no value: nothing to report
	}
	switch ch.Field {
	case FieldMessages:
		var v wireValue
		if err := json.Unmarshal(ch.Value, &v); err != nil {
			return append(events, malformed(account, at, "messages value", err))
		}
		var md wireMetadata
		if len(v.Metadata) > 0 {
			_ = json.Unmarshal(v.Metadata, &md) // best effort: the entry id stands in
		}
		var contacts []wireContact
		var raws []json.RawMessage
		if len(v.Contacts) > 0 && json.Unmarshal(v.Contacts, &raws) == nil {
			for _, r := range raws {
				var c wireContact
				if json.Unmarshal(r, &c) == nil {
					contacts = append(contacts, c)
				}
			}
		}
		p := newValueParser(string(md.PhoneNumberID), account, contacts)
		for _, raw := range v.Messages {
			var m wireMessage
			err := json.Unmarshal(raw, &m)
			if err != nil {
				m = wireMessage{wireHead: decodeHead(raw)}
			}
			events = append(events, p.message(&m, err))
		}
		for _, raw := range v.Statuses {
			var st wireStatus
			if err := json.Unmarshal(raw, &st); err != nil {
				events = append(events, p.malformedStatus(raw, err))
				continue
			}
			events = append(events, p.status(&st))
		}
		if len(v.Errors) > 0 {
			events = append(events, p.valueErrors(at, parseErrorsRaw(v.Errors)))
		}
		return events
	case FieldTemplateStatusUpdate:
		var ts wireTemplateStatus
		if err := json.Unmarshal(ch.Value, &ts); err != nil {
			return append(events, malformed(account, at, "template status value", err))
		}
		return append(events, templateEvent(account, at, &ts))
	}
	return events // other fields are account notifications, not conversation events
}

func templateEvent(account string, at time.Time, ts *wireTemplateStatus) msg.Event {
	id := string(ts.ID) + ":" + ts.Event
	if !at.IsZero() {
		id += ":" + fmt.Sprint(at.Unix())
	}
	return msg.Event{
		Kind:    msg.KindTemplate,
		Channel: msg.WhatsApp,
		Account: account,
		ID:      id,
		Time:    at,
		TemplateStatus: &msg.TemplateStatus{
			Event:    ts.Event,
			ID:       string(ts.ID),
			Name:     ts.Name,
			Language: ts.Language,
			Category: ts.Category,
			Reason:   ts.Reason,
		},
	}
}

// malformed is the KindError event for a part of the envelope that could not be read.
func malformed(account string, at time.Time, what string, err error) msg.Event {
	return msg.Event{
		Kind:    msg.KindError,
		Channel: msg.WhatsApp,
		Account: account,
		Time:    at,
		Errors: []msg.Error{{
			Title:   errMalformedWebhookTitle,
			Message: "cannot read " + what,
			Details: err.Error(),
		}},
	}
}

// valueParser turns the items of one change value into events.
type valueParser struct {
	account  string
	contacts map[string]*wireContact
	only     *wireContact // the single contact of the value, if there is exactly one
}

// newValueParser indexes the value's contacts by wa_id and user_id. account is the phone
// number id, or fallback (the entry id) when the metadata lacks it.
func newValueParser(account, fallback string, contacts []wireContact) *valueParser {
	if account == "" {
		account = fallback
	}
	p := &valueParser{account: account}
	if len(contacts) == 0 {
		return p
	}
	p.contacts = make(map[string]*wireContact, 2*len(contacts))
	for i := range contacts {
		c := &contacts[i]
		if c.WaID != "" {
			p.contacts[string(c.WaID)] = c
		}
		if c.UserID != "" {
			p.contacts[c.UserID] = c
		}
	}
	if len(contacts) == 1 {
		p.only = &contacts[0]
	}
	return p
}

func (p *valueParser) valueErrors(at time.Time, errs []msg.Error) msg.Event {
	return msg.Event{Kind: msg.KindError, Channel: msg.WhatsApp, Account: p.account, Time: at, Errors: errs}
}

// contact finds the profile of the user with the given ids.
func (p *valueParser) contact(phone, userID string) *wireContact {
	for _, id := range []string{phone, userID} {
		if id == "" {
			continue
		}
		if c, ok := p.contacts[id]; ok {
			return c
		}
	}
	// The single contact stands in for a from that differs from its wa_id (Brazilian and
	// Mexican numbers), never for another user: its user id would key this user's
	// conversation, and its phone would link to it.
	if p.only != nil && (p.only.UserID == "" || p.only.UserID == userID) {
		return p.only
	}
	return nil
}

// message builds the event of m; decodeErr says m could not be decoded (then only its head
// is set) and makes the event KindUnsupported.
func (p *valueParser) message(m *wireMessage, decodeErr error) msg.Event {
	err := decodeErr
	phone, userID := string(m.From), m.FromUserID
	if isUserID(phone) { // a business-scoped user id in "from"
		if userID == "" {
			userID = phone
		}
		phone = ""
	}
	ev := msg.Event{
		Channel: msg.WhatsApp,
		Account: p.account,
		ID:      m.ID,
		Group:   m.GroupID,
		Contact: msg.Contact{Phone: phone, UserID: userID},
		Time:    time.Time(m.Timestamp),
	}
	if c := p.contact(phone, userID); c != nil {
		ev.Contact.Name = c.Profile.Name
		ev.Contact.Username = c.Profile.Username
		if c.WaID != "" && !isUserID(string(c.WaID)) {
			ev.Contact.Phone = string(c.WaID)
		}
		if ev.Contact.UserID == "" {
			ev.Contact.UserID = c.UserID
		}
	}
	key := phone // "from" may differ from wa_id (Brazilian and Mexican prefixes): it is what answers go to
	if key == "" {
		key = ev.Contact.Phone
	}
	ev.From = identity(key, ev.Contact.UserID)
	ev.Contact.ID = ev.From
	if err != nil {
		ev.Kind = msg.KindUnsupported
		ev.Unsupported = m.Type
		ev.Errors = []msg.Error{{
			Title:   unsupportedMalformedTitle,
			Message: "cannot read " + quoteType(m.Type) + " message",
			Details: err.Error(),
		}}
		return ev
	}
	ev.Context = convContext(m.Context)
	ev.Referral = convReferral(m.Referral)
	if len(m.Errors) > 0 {
		ev.Errors = convErrors(m.Errors)
	}
	fillContent(&ev, m)
	return ev
}

// fillContent sets Kind and the content field named by m.Type; a type it does not know, or a
// known type without its object, becomes KindUnsupported.
func fillContent(ev *msg.Event, m *wireMessage) {
	missing := func() {
		ev.Kind = msg.KindUnsupported
		ev.Unsupported = m.Type
		ev.Errors = append(ev.Errors, msg.Error{
			Title:   unsupportedMalformedTitle,
			Message: "cannot read " + quoteType(m.Type) + " message",
			Details: "the " + quoteType(m.Type) + " object is missing",
		})
	}
	switch m.Type {
	case "text":
		if m.Text == nil {
			missing()
			return
		}
		ev.Kind, ev.Text = msg.KindText, m.Text.Body
	case "interactive":
		in := m.Interactive
		if in == nil {
			missing()
			return
		}
		switch {
		case in.Type == "button_reply" && in.ButtonReply != nil:
			ev.Kind = msg.KindButton
			ev.Button = &msg.Reply{ID: in.ButtonReply.ID, Title: in.ButtonReply.Title}
		case in.Type == "list_reply" && in.ListReply != nil:
			ev.Kind = msg.KindList
			ev.List = &msg.ListReply{ID: in.ListReply.ID, Title: in.ListReply.Title, Description: in.ListReply.Description}
		case in.Type == "nfm_reply" && in.NfmReply != nil:
			ev.Kind = msg.KindFlowReply
			fr := &msg.FlowReply{Name: in.NfmReply.Name, Body: in.NfmReply.Body}
			if rj := strings.TrimSpace(in.NfmReply.ResponseJSON); rj != "" {
				var resp map[string]any
				if err := json.Unmarshal([]byte(rj), &resp); err != nil {
					ev.Errors = append(ev.Errors, msg.Error{
						Title:   "malformed flow response",
						Message: "response_json is not a JSON object",
						Details: err.Error(),
					})
				} else {
					fr.Response = resp
				}
			}
			ev.FlowReply = fr
		default:
			ev.Kind = msg.KindUnsupported
			ev.Unsupported = "interactive." + in.Type
		}
	case "button":
		if m.Button == nil {
			missing()
			return
		}
		ev.Kind = msg.KindButton
		ev.Button = &msg.Reply{ID: m.Button.Payload, Title: m.Button.Text}
	case "location":
		if m.Location == nil {
			missing()
			return
		}
		l := m.Location
		ev.Kind = msg.KindLocation
		ev.Location = &msg.Location{Latitude: float64(l.Latitude), Longitude: float64(l.Longitude), Name: l.Name, Address: l.Address, URL: l.URL}
	case "image", "video", "audio", "document", "sticker":
		var md *wireMedia
		switch m.Type {
		case "image":
			md = m.Image
		case "video":
			md = m.Video
		case "audio":
			md = m.Audio
		case "document":
			md = m.Document
		case "sticker":
			md = m.Sticker
		}
		if md == nil {
			missing()
			return
		}
		ev.Kind = msg.KindMedia
		ev.Media = &msg.Media{
			Type: m.Type, ID: md.ID, URL: md.URL, MimeType: md.MimeType, SHA256: md.SHA256,
			Caption: md.Caption, Filename: md.Filename, Voice: md.Voice, Animated: md.Animated,
		}
	case "contacts":
		if m.Contacts == nil {
			missing()
			return
		}
		ev.Kind = msg.KindContacts
		ev.Contacts = make([]msg.SharedContact, 0, len(m.Contacts))
		for _, c := range m.Contacts {
			sc := msg.SharedContact{Name: c.Name.FormattedName}
			if sc.Name == "" {
				sc.Name = strings.TrimSpace(c.Name.FirstName + " " + c.Name.LastName)
			}
			for _, ph := range c.Phones {
				sc.Phones = append(sc.Phones, ph.Phone)
				if sc.WaID == "" {
					sc.WaID = string(ph.WaID)
				}
			}
			for _, em := range c.Emails {
				sc.Emails = append(sc.Emails, em.Email)
			}
			ev.Contacts = append(ev.Contacts, sc)
		}
	case "reaction":
		if m.Reaction == nil {
			missing()
			return
		}
		ev.Kind = msg.KindReaction
		ev.Reaction = &msg.Reaction{MessageID: m.Reaction.MessageID, Emoji: m.Reaction.Emoji}
	case "order":
		if m.Order == nil {
			missing()
			return
		}
		ev.Kind = msg.KindOrder
		o := &msg.Order{CatalogID: m.Order.CatalogID, Text: m.Order.Text}
		for _, it := range m.Order.ProductItems {
			o.Items = append(o.Items, msg.OrderItem{
				ProductID: it.ProductRetailerID, Quantity: int(it.Quantity),
				Price: float64(it.ItemPrice), Currency: it.Currency,
			})
		}
		ev.Order = o
	case "system":
		if m.System == nil {
			missing()
			return
		}
		s := m.System
		newID := string(s.WaID)
		if newID == "" {
			newID = string(s.NewWaID)
		}
		typ := s.Type
		if typ == "customer_changed_number" { // the older spelling
			typ = msg.SystemNumberChanged
		}
		ev.Kind = msg.KindSystem
		ev.System = &msg.System{Type: typ, Body: s.Body, NewID: newID}
	case "unsupported":
		ev.Kind = msg.KindUnsupported
		if m.Unsupported != nil {
			ev.Unsupported = m.Unsupported.Type
		}
	default: // unknown, edit, revoke and On-Premises leftovers
		ev.Kind = msg.KindUnsupported
		ev.Unsupported = m.Type
		if len(ev.Errors) == 0 {
			ev.Errors = []msg.Error{{
				Code:    codeUnsupportedMessageType,
				Title:   "Message type unknown",
				Message: "message type " + quoteType(m.Type) + " is not supported by this provider",
			}}
		}
	}
}

func quoteType(t string) string {
	if t == "" {
		return "untyped"
	}
	return fmt.Sprintf("%q", t)
}

// decodeHead reads what it can of a malformed message, field by field.
func decodeHead(raw json.RawMessage) wireHead {
	var h wireHead
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) != nil {
		return h
	}
	_ = json.Unmarshal(fields["from"], &h.From)
	_ = json.Unmarshal(fields["from_user_id"], &h.FromUserID)
	_ = json.Unmarshal(fields["group_id"], &h.GroupID)
	_ = json.Unmarshal(fields["id"], &h.ID)
	_ = json.Unmarshal(fields["timestamp"], &h.Timestamp)
	_ = json.Unmarshal(fields["type"], &h.Type)
	return h
}

func (p *valueParser) malformedStatus(raw json.RawMessage, err error) msg.Event {
	var head struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	_ = json.Unmarshal(raw, &head)
	ev := malformed(p.account, time.Time{}, "status", err)
	ev.Errors[0].Message = "cannot read status " + head.Status + " of " + head.ID
	return ev
}

func (p *valueParser) status(s *wireStatus) msg.Event {
	phone, userID := string(s.RecipientID), s.RecipientUser
	if isUserID(phone) {
		if userID == "" {
			userID = phone
		}
		phone = ""
	}
	recipient := identity(phone, userID)
	ev := msg.Event{
		Kind:    msg.KindStatus,
		Channel: msg.WhatsApp,
		Account: p.account,
		ID:      s.ID + ":" + s.Status,
		From:    recipient,
		Contact: msg.Contact{ID: recipient, Phone: phone, UserID: userID},
		Time:    time.Time(s.Timestamp),
		Status: &msg.Status{
			MessageID: s.ID,
			State:     s.Status,
			Recipient: recipient,
			Callback:  s.Callback,
		},
	}
	if c := p.contact(phone, userID); c != nil {
		ev.Contact.Name, ev.Contact.Username = c.Profile.Name, c.Profile.Username
		if ev.Contact.Phone == "" && !isUserID(string(c.WaID)) {
			ev.Contact.Phone = string(c.WaID)
		}
		if ev.Contact.UserID == "" {
			ev.Contact.UserID = c.UserID
		}
	}
	if len(s.Errors) > 0 {
		ev.Status.Errors = convErrors(s.Errors)
		for _, e := range s.Errors {
			if int(e.Code) == meta.CodeWindowClosed {
				ev.Status.WindowClosed = true
			}
		}
	}
	return ev
}

func convErrors(ws []wireError) []msg.Error {
	out := make([]msg.Error, len(ws))
	for i, w := range ws {
		out[i] = msg.Error{Code: int(w.Code), Title: w.Title, Message: w.Message, Details: w.ErrorData.Details}
	}
	return out
}

func parseErrorsRaw(raws []json.RawMessage) []msg.Error {
	out := make([]msg.Error, 0, len(raws))
	for _, r := range raws {
		var w wireError
		if err := json.Unmarshal(r, &w); err != nil {
			out = append(out, msg.Error{Title: errMalformedWebhookTitle, Message: "cannot read error", Details: err.Error()})
			continue
		}
		out = append(out, convErrors([]wireError{w})...)
	}
	return out
}

func convContext(c *wireContext) *msg.Context {
	if c == nil {
		return nil
	}
	out := &msg.Context{ReplyTo: c.ID, From: c.From, Forwarded: c.Forwarded, FrequentlyForwarded: c.FrequentlyForwarded}
	if rp := c.ReferredProduct; rp != nil {
		out.ProductID, out.CatalogID = rp.ProductRetailerID, rp.CatalogID
	}
	if *out == (msg.Context{}) {
		return nil
	}
	return out
}

func convReferral(r *wireReferral) *msg.Referral {
	if r == nil {
		return nil
	}
	out := &msg.Referral{
		SourceURL: r.SourceURL, SourceID: r.SourceID, SourceType: r.SourceType, Body: r.Body,
		Headline: r.Headline, MediaType: r.MediaType, ImageURL: r.ImageURL, VideoURL: r.VideoURL,
		ThumbnailURL: r.ThumbnailURL, ClickID: r.CtwaClid,
	}
	if r.WelcomeMessage != nil {
		out.Welcome = r.WelcomeMessage.Text
	}
	if *out == (msg.Referral{}) {
		return nil
	}
	return out
}

// identity is the id a user's conversation is keyed by: the business-scoped user id when there
// is one, else the phone number.
func identity(phone, userID string) string {
	if userID != "" {
		return userID
	}
	return phone
}

// IsUserID reports whether id is a business-scoped user id (such as "US.13491208655302741918")
// rather than a phone number: phone numbers have no letters.
func IsUserID(id string) bool { return isUserID(id) }

func isUserID(id string) bool {
	for i := 0; i < len(id); i++ {
		if c := id[i] | 0x20; c >= 'a' && c <= 'z' {
			return true
		}
	}
	return false
}
