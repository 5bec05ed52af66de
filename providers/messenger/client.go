package messenger

import (
	"context"
	"encoding/json"

	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/providers/channel"
	"github.com/flowgate/flowgate/providers/meta"
)

// Config configures a [Client]: the account, the Graph API client settings every Meta channel
// shares, and the throughput of the default in-process limiter.
type Config struct {
	AccountID string // the Page id (Messenger) or Instagram account id messages are sent from
	meta.ClientConfig

	// RatePerSecond is the account's send rate (default the platform's: 250 for Messenger,
	// 100 for Instagram); Burst the bucket's size (default one second's worth).
	RatePerSecond float64
	Burst         int
}

// Client sends messages through the platform's Send API: POST
// {base}/{version}/{account}/messages. It is safe for concurrent use.
type Client struct {
	g       *meta.Client
	p       *Platform
	account string
}

// NewClient returns a Client of platform p for cfg, with defaults applied to its zero fields.
// Messages are paced by the account's throughput only: the platform has no per-recipient pace.
func NewClient(p *Platform, cfg Config) *Client {
	rate := cfg.RatePerSecond
	if rate <= 0 {
		rate = p.RatePerSecond
	}
	acc := meta.Account{Channel: p.Name, ID: cfg.AccountID, Limiter: meta.LimiterConfig{RatePerSecond: rate, Burst: cfg.Burst}}
	return &Client{g: meta.NewClient(acc, cfg.ClientConfig), p: p, account: cfg.AccountID}
}

// SetAccessToken replaces the access token for the requests that follow.
func (c *Client) SetAccessToken(token string) { c.g.SetAccessToken(token) }

// Limiter returns the Client's pacer, to share it with another Client.
func (c *Client) Limiter() channel.Pacer { return c.g.Limiter() }

// MessagesURL is the endpoint messages are posted to.
func (c *Client) MessagesURL() string { return c.g.URL(c.account, "messages") }

// Send renders m and posts each of its requests in order, retrying throttle and transient
// errors. It returns the ids of the messages the platform accepted (none for sender actions);
// when a later request fails, the ids of those already sent come back with the error. Graph
// errors are [*meta.Error]; a refusal because the window is closed matches
// [msg.ErrWindowClosed] (errors.Is).
func (c *Client) Send(ctx context.Context, m *msg.Message) (ids []string, err error) {
	reqs, err := c.p.Render(m)
	if err != nil {
		return nil, err
	}
	if err := c.g.Configured(); err != nil {
		return nil, err
	}
	return c.g.PostAll(ctx, c.MessagesURL(), reqs, m.NoRetryOnRateLimit, messageID)
}

// messageID reads the Send API's answer: the message id, or nothing for a sender action.
func messageID(r meta.Request, body []byte) (string, error) {
	var ok struct {
		RecipientID string `json:"recipient_id"`
		MessageID   string `json:"message_id"`
	}
	switch {
	case json.Unmarshal(body, &ok) != nil:
	case isAction(r.Type):
		return "", nil
	case ok.MessageID != "":
		return ok.MessageID, nil
	}
	return "", meta.UnexpectedSuccess(body)
}
