// Package channel is the contract between Flowgate and a messaging channel: the [Provider]
// interface every channel package implements, and the [Registry] through which gtc serve,
// gtc setup, flowctl and flow validation find the channels without naming any.
//
// A channel joins a build by implementing Provider in its own package and being listed once in
// providers.All. Everything channel-specific stays behind the interface: webhook parsing,
// the handshake and signature, rendering and sending, what a message can carry, what gtc setup
// asks for, and the synthetic webhooks and API answers flowctl test plays.
package channel

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/flowgate/flowgate/engine/msg"
)

// Provider is one messaging channel.
type Provider interface {
	// Name is the channel's name in webhook paths, provider files, flows' channels lists and
	// test cases: lowercase letters, like "whatsapp".
	Name() string
	// Limits are what one message on the channel can carry, for flow validation and the
	// window policy.
	Limits() msg.Limits

	// Parse turns a webhook body into normalized events. It fails only when the body is not
	// the channel's webhook at all (then the server answers 400); a part it cannot read becomes
	// an event of its own and the rest of the batch is kept.
	Parse(body []byte) ([]msg.Event, error)
	// Verify answers the webhook verification handshake: the challenge to echo with 200, and
	// whether the query proves that the caller knows verifyToken.
	Verify(q url.Values, verifyToken string) (challenge string, ok bool)
	// Authenticate checks a webhook delivery's signature over the raw body with the app
	// secret. Its error wraps ErrBadSignature or ErrNoAppSecret.
	Authenticate(h http.Header, body []byte, appSecret string) error
	// Sign sets the headers that make a delivery of body pass Authenticate, for tests and local
	// tools.
	Sign(h http.Header, body []byte, appSecret string)

	// NewSender returns the sender of an account's messages.
	NewSender(a Account, o SendOptions) Sender
	// Check asks the channel's API whether the account's credentials work (gtc setup
	// --check), in one request.
	Check(ctx context.Context, hc *http.Client, a Account) error
	// Setup says what gtc setup asks for and prints for the channel.
	Setup() Setup

	// WebhookBody renders an inbound user message (text, button or quick reply, list reply,
	// location, media) as the webhook body the channel would deliver for it: the inverse of
	// Parse, so that flowctl's synthetic messages take the same path as recorded ones.
	WebhookBody(ev *msg.Event) ([]byte, error)
	// Accepted is the body the channel's API answers when it accepts the request body req
	// (flowctl test's fake API), and the message id in it, made from token in the channel's
	// style (WhatsApp "wamid." + token). A request that carries no message (a read receipt,
	// a typing indicator) has an empty id.
	Accepted(req []byte, token string) (answer []byte, id string)
}

// Sender sends a message through a channel's API and returns the ids the channel gave it
// (several when the message went out in parts, none for a read receipt).
type Sender interface {
	Send(ctx context.Context, m *msg.Message) ([]string, error)
}

// Account is one channel account as a bundle configures it.
type Account struct {
	ID         string // the business account: phone number id, page id, Instagram account id
	Token      string // the access token; never logged
	APIVersion string // empty: the provider's default
	BaseURL    string // the API's base URL; empty: the provider's default
}

// SendOptions are what the host gives every sender: the transport, the time, the shared pacing
// and the hooks for logs and metrics. Zero fields take the provider's defaults.
type SendOptions struct {
	HTTPClient *http.Client
	Clock      Clock
	// Jitter returns a uniformly random duration in [0, n), for backoff; tests make it
	// deterministic.
	Jitter func(n time.Duration) time.Duration
	// Pacer holds the accounts' send budgets; one kept in Redis shares them between
	// processes. Nil: an in-process pacer per sender.
	Pacer  Pacer
	Logger *slog.Logger
	// OnRetry is told the error code of every retried request (metrics).
	OnRetry func(code int)
}

// Setup is what gtc setup asks for and prints for a channel, and how it names the account's
// values in the answers file and the provider files.
type Setup struct {
	Title       string // the channel as people write it: "WhatsApp"
	Description string // of its answers section: "WhatsApp Cloud API channel."

	IDKey   string // key of the account id: phone_number_id
	IDLabel string // what the id names: "phone number"
	IDFix   string // where to find the id, for a missing one
	// TokenKey is the key of the access token (access_token, page_access_token); TokenRef the
	// ${NAME} reference gtc setup suggests for it; TokenFix what to do when it is missing.
	TokenKey, TokenRef, TokenFix string
	// Optional lists further optional keys of the section, each an id (business_account_id).
	Optional []string

	DefaultAPIVersion string
	DefaultBaseURL    string
	// WebhookFields are the fields to subscribe to in the Meta app dashboard (or the
	// channel's equivalent).
	WebhookFields []string
	// Permissions the token needs, for the hint of a failed check.
	Permissions string
}
