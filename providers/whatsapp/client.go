package whatsapp

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/providers/channel"
	"github.com/flowgate/flowgate/providers/meta"
)

// Client sends messages through the WhatsApp Cloud API. It is safe for concurrent use.
type Client struct {
	g     *meta.Client
	phone string
}

// NewClient returns a Client for cfg, with defaults applied to its zero fields.
func NewClient(cfg Config) *Client {
	return &Client{g: meta.NewClient(cfg.account(), cfg.ClientConfig), phone: cfg.PhoneNumberID}
}

// SetAccessToken replaces the access token for the requests that follow (token rotation
// without a restart).
func (c *Client) SetAccessToken(token string) { c.g.SetAccessToken(token) }

// Limiter returns the Client's pacer, to share it with another Client.
func (c *Client) Limiter() channel.Pacer { return c.g.Limiter() }

// PaceRecipient names a user as the pacer's recipient schedules do: every message waits on
// its recipient's pace too (the pair rate limit), under the id of the user's conversation
// (msg.Message.To), so that a person is paced as one whether a message goes to their phone
// number or to their user id.
func (c *Client) PaceRecipient(user string) string { return user }

// MessagesURL is the endpoint messages are posted to.
func (c *Client) MessagesURL() string { return c.g.URL(c.phone, "messages") }

// Send renders m, paces it and posts each of its requests, retrying throttle and transient
// errors as the package documentation describes. It returns the wamids of the messages Meta
// accepted (none for a read receipt); when a later part of a split text fails, the ids of the
// parts already sent come back with the error. Graph errors are [*meta.Error] (errors.As); a
// closed customer-service window matches [msg.ErrWindowClosed] (errors.Is).
func (c *Client) Send(ctx context.Context, m *msg.Message) (ids []string, err error) {
	ids, _, err = c.SendUser(ctx, m)
	return ids, err
}

// SendUser is Send that also returns the business-scoped user id the Cloud API answered with
// (contacts[0].user_id), empty when it gave none.
func (c *Client) SendUser(ctx context.Context, m *msg.Message) (ids []string, userID string, err error) {
	reqs, err := Render(m)
	if err != nil {
		return nil, "", err
	}
	if err := c.g.Configured(); err != nil {
		return nil, "", err
	}
	ids, err = c.g.PostAll(ctx, c.MessagesURL(), reqs, m.NoRetryOnRateLimit, func(r meta.Request, body []byte) (string, error) {
		id, uid, err := parseSuccess(r, body)
		if uid != "" {
			userID = uid
		}
		return id, err
	})
	return ids, userID, err
}

// Check reads the phone number (GET /{version}/{phone-number-id}) to prove that the
// configuration and the token work. It makes one attempt and returns the [*meta.Error] on
// failure.
func (c *Client) Check(ctx context.Context) error {
	if err := c.g.Configured(); err != nil {
		return err
	}
	if _, err := c.g.Get(ctx, c.g.URL(c.phone)); err != nil {
		return fmt.Errorf("whatsapp: checking phone number %s: %w", c.phone, err)
	}
	return nil
}

// sendResponse is the success answer: messages[0].id for a message, success for a read
// receipt; contacts[0].user_id is the user's business-scoped user id, when Meta gives it.
type sendResponse struct {
	Contacts []struct {
		UserID string `json:"user_id"`
	} `json:"contacts"`
	Messages []struct {
		ID            string `json:"id"`
		MessageStatus string `json:"message_status"`
	} `json:"messages"`
	Success bool `json:"success"`
}

func parseSuccess(r meta.Request, body []byte) (id, userID string, err error) {
	var sr sendResponse
	err = json.Unmarshal(body, &sr)
	if err == nil && len(sr.Contacts) > 0 {
		userID = sr.Contacts[0].UserID
	}
	switch {
	case err == nil && r.Type == "read" && sr.Success:
		return "", "", nil
	case err == nil && r.Type != "read" && len(sr.Messages) > 0 && sr.Messages[0].ID != "":
		return sr.Messages[0].ID, userID, nil
	}
	return "", "", meta.UnexpectedSuccess(body)
}
