package engine

import (
	"context"
	"time"

	"github.com/flowgate/flowgate/engine/msg"
)

// Config is everything the engine is built from: a bundle's flows, templates and settings.
type Config struct {
	Flows     []*Flow
	Templates []Template
	// NoTemplates says that there is no templates.yaml to check the templates flows send
	// against, as for flows validated outside a bundle: each use of a template is then a warning
	// that it cannot be checked, rather than an error.
	NoTemplates bool
	// Unloaded names the flow files that could not be read or parsed (their errors are reported
	// already). Findings that may only follow from their absence say so or are held back: a goto
	// to a missing flow, variables that nothing else sets.
	Unloaded []string
	Settings Settings
	// SettingsFile names bundle.yaml in diagnostics about settings.
	SettingsFile string
	// Limits are the channels flows may run on, with what each can carry (from the providers).
	// A flow without channels: is checked against all of them. Nil skips content checks.
	Limits map[string]msg.Limits
	// HTTP performs the requests of http nodes. Nil makes every http node fail (on_error).
	HTTP HTTPClient
}

// HTTPClient performs the request of an http node. The engine does no I/O of its own; the host
// passes an implementation (a real client in the server, mocks in flowctl test).
type HTTPClient interface {
	Do(ctx context.Context, req *HTTPRequest) (*HTTPResponse, error)
}

// HTTPRequest is an http node's request, interpolated.
type HTTPRequest struct {
	Method  string
	URL     string
	Headers map[string]string
	Body    []byte // JSON, or nil
	Timeout time.Duration
}

// HTTPResponse is what an http node stores: the status and the decoded JSON body.
type HTTPResponse struct {
	Status int
	Body   any
}

// Conversation identifies a conversation: one user on one business account.
type Conversation struct {
	Tenant  string
	Team    string
	Channel string
	Account string
	User    string
}

// Send is one outbound message produced by a run, with the node that produced it.
type Send struct {
	Message msg.Message
	Flow    string
	Node    string
}

// Result is what handling one event produced: messages to send and a trace of what happened.
// The conversation state passed in has been updated in place.
type Result struct {
	Sends []Send
	Trace []TraceEntry
	// Kept is set when the event was kept for a human agent (the conversation is in handoff).
	Kept bool
	// FellBack is set when a window fallback template went out, or the channel refused a
	// message because the window was closed. For the rest of the event no other fallback goes
	// out and free-form messages are held instead: the host passes it on to Refused.
	FellBack bool
}

// Refusal is a message the channel refused because the window is closed (WhatsApp 131047),
// with what the same event had still to send after it.
type Refusal struct {
	Send     Send
	Rest     []Send // the event's messages after Send, not sent yet, in order
	FellBack bool   // a window fallback already went out in this event (Result.FellBack)
}
