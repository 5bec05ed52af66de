package engine

import "github.com/flowgate/flowgate/engine/msg"

// strFunc is called for every interpolated string of a message config, in a fixed order, with
// the string's path below the config. At load it compiles the string; at run time it returns
// the rendered text. One function builds messages for both, so the two can never drift apart.
type strFunc func(s string, path ...string) string

// buildReply turns a reply config into the outbound message.
func buildReply(c *ReplyConfig, str strFunc) msg.Message {
	var m msg.Message
	switch {
	case c.Template != nil:
		m.Template = buildTemplate(c.Template, str, "template")
	case c.Interactive != nil:
		m.Interactive = buildInteractive(c.Interactive, str)
	case c.Media != nil:
		m.Media = &msg.OutMedia{
			Type:     c.Media.Type,
			Link:     str(c.Media.Link, "media", "link"),
			ID:       str(c.Media.ID, "media", "id"),
			Caption:  str(c.Media.Caption, "media", "caption"),
			Filename: str(c.Media.Filename, "media", "filename"),
		}
	case c.Location != nil:
		m.Location = &msg.Location{
			Latitude:  c.Location.Latitude,
			Longitude: c.Location.Longitude,
			Name:      str(c.Location.Name, "location", "name"),
			Address:   str(c.Location.Address, "location", "address"),
		}
	default:
		m.Text = &msg.Text{Body: str(c.Message, "message"), PreviewURL: c.PreviewURL}
	}
	return m
}

// buildTemplate turns a template config into the outbound template. at is the config's path.
func buildTemplate(t *TemplateConfig, str strFunc, at ...string) *msg.Template {
	out := &msg.Template{Name: t.Name, Language: t.Language}
	if len(t.Components) > 0 {
		out.Components = make([]msg.Component, len(t.Components))
	}
	for i, c := range t.Components {
		oc := msg.Component{Type: c.Type, SubType: c.SubType, Index: c.Index}
		if len(c.Parameters) > 0 {
			oc.Parameters = make([]msg.Parameter, len(c.Parameters))
		}
		for j, p := range c.Parameters {
			path := append(at[:len(at):len(at)], "components", itoa(i), "parameters", itoa(j))
			op := msg.Parameter{Type: p.Type, Name: p.ParameterName}
			op.Text = str(p.Text, append(path, "text")...)
			op.Payload = str(p.Payload, append(path, "payload")...)
			for _, m := range []struct {
				kind string
				ref  *MediaRef
			}{{"image", p.Image}, {"video", p.Video}, {"document", p.Document}} {
				if m.ref != nil {
					op.Media = &msg.OutMedia{
						Type:     m.kind,
						Link:     str(m.ref.Link, append(path, m.kind, "link")...),
						ID:       str(m.ref.ID, append(path, m.kind, "id")...),
						Filename: str(m.ref.Filename, append(path, m.kind, "filename")...),
					}
				}
			}
			if p.Location != nil {
				op.Location = &msg.Location{
					Latitude:  p.Location.Latitude,
					Longitude: p.Location.Longitude,
					Name:      str(p.Location.Name, append(path, "location", "name")...),
					Address:   str(p.Location.Address, append(path, "location", "address")...),
				}
			}
			if p.Currency != nil {
				op.Currency = &msg.Currency{Code: p.Currency.Code, Amount1000: p.Currency.Amount1000}
				op.Text = str(p.Currency.FallbackValue, append(path, "currency", "fallback_value")...)
			}
			if p.DateTime != nil {
				op.Text = str(p.DateTime.FallbackValue, append(path, "date_time", "fallback_value")...)
			}
			oc.Parameters[j] = op
		}
		out.Components[i] = oc
	}
	return out
}

// buildInteractive turns an interactive config into the outbound interactive message.
func buildInteractive(c *InteractiveConfig, str strFunc) *msg.Interactive {
	out := &msg.Interactive{
		Type:       c.Type,
		Body:       str(c.Body.Text, "interactive", "body", "text"),
		ListButton: str(c.Action.Button, "interactive", "action", "button"),
	}
	if h := c.Header; h != nil {
		out.Header = &msg.Header{Type: h.Type, Text: str(h.Text, "interactive", "header", "text")}
		for _, m := range []struct {
			kind string
			ref  *MediaRef
		}{{"image", h.Image}, {"video", h.Video}, {"document", h.Document}} {
			if m.ref != nil {
				out.Header.Media = &msg.OutMedia{
					Type:     m.kind,
					Link:     str(m.ref.Link, "interactive", "header", m.kind, "link"),
					ID:       str(m.ref.ID, "interactive", "header", m.kind, "id"),
					Filename: str(m.ref.Filename, "interactive", "header", m.kind, "filename"),
				}
			}
		}
	}
	if c.Footer != nil {
		out.Footer = str(c.Footer.Text, "interactive", "footer", "text")
	}
	for i, b := range c.Action.Buttons {
		out.Buttons = append(out.Buttons, msg.Button{
			ID:    b.Reply.ID,
			Title: str(b.Reply.Title, "interactive", "action", "buttons", itoa(i), "reply", "title"),
		})
	}
	for i, s := range c.Action.Sections {
		os := msg.Section{Title: str(s.Title, "interactive", "action", "sections", itoa(i), "title")}
		for j, r := range s.Rows {
			p := []string{"interactive", "action", "sections", itoa(i), "rows", itoa(j)}
			os.Rows = append(os.Rows, msg.Row{
				ID:          r.ID,
				Title:       str(r.Title, append(p, "title")...),
				Description: str(r.Description, append(p, "description")...),
			})
		}
		out.Sections = append(out.Sections, os)
	}
	return out
}
