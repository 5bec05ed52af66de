package engine

import (
	"strconv"
	"strings"
	"unicode"
)

// State is one conversation's state between events. The engine updates it in place; the host
// stores it (Redis in production, memory in flowctl test) with Encode and DecodeState.
type State struct {
	Flow            string         `json:"f,omitempty"` // flow of the waiting node
	Node            string         `json:"n,omitempty"` // the input node the conversation waits at
	Vars            map[string]any `json:"v,omitempty"`
	LastMessageTime int64          `json:"l,omitempty"` // Unix seconds of the user's last message
	WindowClosed    bool           `json:"w,omitempty"` // the channel said the window is closed
	OptedOut        bool           `json:"o,omitempty"`
	Handoff         string         `json:"h,omitempty"` // queue of a running handoff
	Name            string         `json:"p,omitempty"` // the user's profile name, from their last message
	Attempts        int            `json:"a,omitempty"` // invalid answers at the waiting node
	Timeout         int64          `json:"t,omitempty"` // Unix seconds the input wait times out
	Active          int64          `json:"u,omitempty"` // Unix seconds of the last activity
	Outbox          []Sent         `json:"s,omitempty"` // recent outbound messages, newest last
	Held            []Held         `json:"d,omitempty"` // messages the closed window stopped, oldest first
	// Phone is the user's phone number when the conversation is keyed by another id (a
	// WhatsApp business-scoped user id): replies go to it. Empty when the key is the phone.
	Phone    string `json:"ph,omitempty"`
	UserID   string `json:"ui,omitempty"` // the user's business-scoped user id, when known
	Username string `json:"un,omitempty"` // the user's WhatsApp username, when known
	// Linked is the host's bookkeeping: Unix seconds it last wrote the link that leads the
	// user's phone number to this conversation.
	Linked int64 `json:"lk,omitempty"`
}

// Held is a free-form message the closed window stopped, kept to be delivered when the user's
// next message opens the window again.
type Held struct {
	Send
	At int64 // Unix seconds it was held
}

// Sent is a recently sent message and the node that sent it, so that its delivery status (and a
// refusal because the window closed) can be traced back.
type Sent struct {
	ID     string `json:"i"`
	Flow   string `json:"f,omitempty"`
	Node   string `json:"n,omitempty"`
	Status string `json:"s,omitempty"`
}

// maxOutbox bounds the outbound records kept in the state.
const maxOutbox = 8

// Waiting reports whether the conversation waits at an input node.
func (s *State) Waiting() bool { return s.Node != "" }

// RecordSent remembers a message the channel accepted, with the node that produced it.
func (s *State) RecordSent(id string, send Send) {
	if id == "" {
		return
	}
	s.Outbox = append(s.Outbox, Sent{ID: id, Flow: send.Flow, Node: send.Node, Status: "sent"})
	if n := len(s.Outbox); n > maxOutbox {
		s.Outbox = append(s.Outbox[:0], s.Outbox[n-maxOutbox:]...)
	}
}

// sent finds the record of an outbound message.
func (s *State) sent(id string) *Sent {
	for i := range s.Outbox {
		if s.Outbox[i].ID == id {
			return &s.Outbox[i]
		}
	}
	return nil
}

// TraceKind classifies trace entries.
type TraceKind string

// Trace entry kinds.
const (
	TraceTrigger      TraceKind = "trigger"       // a trigger (or the default flow) started a run
	TraceNode         TraceKind = "node"          // a node ran
	TraceSend         TraceKind = "send"          // a message was produced
	TraceBranch       TraceKind = "branch"        // a branch node decided: each condition tried, its value, the node taken
	TraceWait         TraceKind = "wait"          // the run waits for the user
	TraceResume       TraceKind = "resume"        // a waiting input node got its answer
	TraceInvalid      TraceKind = "invalid"       // an answer failed validation
	TraceTimeout      TraceKind = "timeout"       // an input wait timed out
	TraceExpired      TraceKind = "expired"       // the session expired
	TraceWindowClosed TraceKind = "window_closed" // a free-form message could not be sent and no fallback existed
	TraceFallback     TraceKind = "fallback"      // a template went out instead of a free-form message
	TraceHeld         TraceKind = "held"          // a held message went out, or was dropped unsent
	TraceOptOut       TraceKind = "opt_out"
	TraceOptIn        TraceKind = "opt_in"
	TraceSuppressed   TraceKind = "suppressed" // nothing runs or goes out: opted out
	TraceHandoff      TraceKind = "handoff"
	TraceAgent        TraceKind = "agent" // a human agent's message, sent through the API
	TraceStatus       TraceKind = "status"
	TraceHTTP         TraceKind = "http"
	TraceMissingVar   TraceKind = "missing_var"
	TraceLoop         TraceKind = "loop" // the step limit stopped a run
	TraceError        TraceKind = "error"
	TraceBudget       TraceKind = "budget"      // an expression ran out of time or memory: the run ended
	TraceLimit        TraceKind = "limit"       // a value or text was cut to a limit
	TraceIgnored      TraceKind = "ignored"     // the event matched nothing
	TraceStateReset   TraceKind = "state_reset" // the stored state could not be read: the conversation started over
	TraceLinked       TraceKind = "linked"      // the conversation took over, or passed on to, the one of the user's other id
)

// TraceEntry is one thing that happened while handling an event.
type TraceEntry struct {
	Kind   TraceKind
	Node   string // flow/node, when a node is involved
	Detail string
}

// String is the entry as one line. Control characters and line separators in the node and the
// detail, which may hold user text, are written as Go escapes (\n, \r, \u2028), so that no
// entry can end its line and forge another.
func (t TraceEntry) String() string {
	s := string(t.Kind)
	if t.Node != "" {
		s += " " + oneLine(t.Node)
	}
	if t.Detail != "" {
		s += ": " + oneLine(t.Detail)
	}
	return s
}

// oneLine escapes the characters of s that could break a line.
func oneLine(s string) string {
	breaks := func(r rune) bool { return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' }
	if !strings.ContainsFunc(s, breaks) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if breaks(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func itoa(i int) string { return strconv.Itoa(i) }
