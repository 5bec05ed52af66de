package engine

import (
	"regexp"
	"slices"
	"strings"

	"github.com/expr-lang/expr/vm"

	"github.com/flowgate/flowgate/engine/msg"
)

// trigger is a compiled Trigger.
type trigger struct {
	*Trigger
	node     *Node
	keywords map[string]bool // upper-cased
	pattern  *regexp.Regexp
	expr     *vm.Program
	ids      map[string]bool
}

// match returns the highest-priority trigger that matches ev, only interrupt triggers when
// interrupts is set.
func (e *Engine) match(r *run, ev *msg.Event, interrupts bool) *trigger {
	for _, t := range e.triggers {
		if interrupts && !t.Interrupt {
			continue
		}
		if f := t.node.flow; len(f.Channels) > 0 && !slices.Contains(f.Channels, r.conv.Channel) {
			continue
		}
		if t.matches(r, ev) {
			return t
		}
	}
	return nil
}

func (t *trigger) matches(r *run, ev *msg.Event) bool {
	switch t.Type {
	case "message":
		if ev.Kind != msg.KindText {
			return false
		}
		if t.keywords != nil && !t.keywords[strings.ToUpper(strings.TrimSpace(ev.Text))] {
			return false
		}
		if t.pattern != nil && !t.pattern.MatchString(ev.Text) {
			return false
		}
	case "interactive":
		var id string
		switch {
		case ev.Kind == msg.KindButton && ev.Button != nil:
			id = ev.Button.ID
		case ev.Kind == msg.KindList && ev.List != nil:
			id = ev.List.ID
		default:
			return false
		}
		if t.ids != nil && !t.ids[id] {
			return false
		}
	case "postback":
		if ev.Kind != msg.KindPostback || ev.Button == nil {
			return false
		}
		if t.ids != nil && !t.ids[ev.Button.ID] {
			return false
		}
	case "location":
		if ev.Kind != msg.KindLocation {
			return false
		}
	case "media":
		if ev.Kind != msg.KindMedia {
			return false
		}
	case "referral":
		if ev.Referral == nil {
			return false
		}
	case "any":
	default:
		return false
	}
	return t.expr == nil || r.evalBool(t.expr, t.node.path)
}
