package engine

import (
	"encoding/binary"
	"fmt"

	"github.com/flowgate/flowgate/engine/msg"
)

// Held messages are free-form messages, stored in the state format (version 2) as a kind byte,
// the fields every message has (ReplyTo, Tag, a flags byte) and the content of that kind. The
// recipient is not stored: it is the conversation's user.
const (
	msgText byte = iota + 1
	msgInteractive
	msgMedia
	msgLocation
	msgReaction
)

const (
	msgFlagNoRetry = 1 << iota
	msgFlagPreviewURL
	msgFlagHeader
)

// message writes a free-form message. Templates and read receipts are never held.
func (e *encoder) message(m *msg.Message) error {
	var kind, flags byte
	switch {
	case m.Text != nil:
		kind = msgText
		if m.Text.PreviewURL {
			flags |= msgFlagPreviewURL
		}
	case m.Interactive != nil:
		kind = msgInteractive
		if m.Interactive.Header != nil {
			flags |= msgFlagHeader
		}
	case m.Media != nil:
		kind = msgMedia
	case m.Location != nil:
		kind = msgLocation
	case m.Reaction != nil:
		kind = msgReaction
	default:
		return fmt.Errorf("a %s message is not held", m.Type())
	}
	if m.NoRetryOnRateLimit {
		flags |= msgFlagNoRetry
	}
	e.b = append(e.b, kind, flags)
	e.string(m.ReplyTo)
	e.string(m.Tag)
	switch kind {
	case msgText:
		e.string(m.Text.Body)
	case msgInteractive:
		e.interactive(m.Interactive)
	case msgMedia:
		e.media(m.Media)
	case msgLocation:
		l := m.Location
		e.float(l.Latitude)
		e.float(l.Longitude)
		e.string(l.Name)
		e.string(l.Address)
	case msgReaction:
		e.string(m.Reaction.MessageID)
		e.string(m.Reaction.Emoji)
	}
	return nil
}

func (e *encoder) interactive(in *msg.Interactive) {
	e.string(in.Type)
	if h := in.Header; h != nil {
		e.string(h.Type)
		e.string(h.Text)
		e.bool(h.Media != nil)
		if h.Media != nil {
			e.media(h.Media)
		}
	}
	e.string(in.Body)
	e.string(in.Footer)
	e.string(in.ListButton)
	e.count(len(in.Buttons))
	for _, b := range in.Buttons {
		e.string(b.ID)
		e.string(b.Title)
	}
	e.count(len(in.Sections))
	for _, s := range in.Sections {
		e.string(s.Title)
		e.count(len(s.Rows))
		for _, r := range s.Rows {
			e.string(r.ID)
			e.string(r.Title)
			e.string(r.Description)
		}
	}
}

func (e *encoder) media(m *msg.OutMedia) {
	e.string(m.Type)
	e.string(m.Link)
	e.string(m.ID)
	e.string(m.Caption)
	e.string(m.Filename)
}

func (e *encoder) count(n int) {
	e.b = binary.AppendUvarint(e.b, uint64(n))
}

// message reads what encoder.message wrote.
func (d *decoder) message() msg.Message {
	kind, flags := d.byte(), d.byte()
	m := msg.Message{ReplyTo: d.string(), Tag: d.string(), NoRetryOnRateLimit: flags&msgFlagNoRetry != 0}
	switch kind {
	case msgText:
		m.Text = &msg.Text{Body: d.string(), PreviewURL: flags&msgFlagPreviewURL != 0}
	case msgInteractive:
		m.Interactive = d.interactive(flags&msgFlagHeader != 0)
	case msgMedia:
		m.Media = d.media()
	case msgLocation:
		m.Location = &msg.Location{Latitude: d.float(), Longitude: d.float(), Name: d.string(), Address: d.string()}
	case msgReaction:
		m.Reaction = &msg.Reaction{MessageID: d.string(), Emoji: d.string()}
	default:
		d.fail(fmt.Errorf("unknown message kind %d", kind))
	}
	return m
}

func (d *decoder) interactive(header bool) *msg.Interactive {
	in := &msg.Interactive{Type: d.string()}
	if header {
		in.Header = &msg.Header{Type: d.string(), Text: d.string()}
		if d.bool() {
			in.Header.Media = d.media()
		}
	}
	in.Body, in.Footer, in.ListButton = d.string(), d.string(), d.string()
	if n := d.count(); n > 0 {
		in.Buttons = make([]msg.Button, n)
		for i := 0; i < n && d.err == nil; i++ {
			in.Buttons[i] = msg.Button{ID: d.string(), Title: d.string()}
		}
	}
	if n := d.count(); n > 0 {
		in.Sections = make([]msg.Section, n)
		for i := 0; i < n && d.err == nil; i++ {
			s := &in.Sections[i]
			s.Title = d.string()
			if rows := d.count(); rows > 0 {
				s.Rows = make([]msg.Row, rows)
				for j := 0; j < rows && d.err == nil; j++ {
					s.Rows[j] = msg.Row{ID: d.string(), Title: d.string(), Description: d.string()}
				}
			}
		}
	}
	return in
}

func (d *decoder) media() *msg.OutMedia {
	return &msg.OutMedia{Type: d.string(), Link: d.string(), ID: d.string(), Caption: d.string(), Filename: d.string()}
}
