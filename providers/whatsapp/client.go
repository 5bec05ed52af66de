package whatsapp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/providers/graph"
)

// maxResponseBody caps how much of a Graph API response is read.
const maxResponseBody = 1 << 20

// ErrNotConfigured is returned, wrapped, when the Client lacks the phone number id or the
// access token.
var ErrNotConfigured = errors.New("whatsapp client not configured")

// Client sends messages through the WhatsApp Cloud API. It is safe for concurrent use.
type Client struct {
	cfg     Config
	token   atomic.Pointer[string]
	limiter Pacer
	log     *slog.Logger
}

// NewClient returns a Client for cfg, with defaults applied to its zero fields.
func NewClient(cfg Config) *Client {
	cfg = cfg.withDefaults()
	c := &Client{cfg: cfg, limiter: cfg.Limiter, log: cfg.Logger}
	if c.limiter == nil {
		c.limiter = NewLimiter(cfg)
	}
	tok := cfg.AccessToken
	c.token.Store(&tok)
	c.cfg.AccessToken = "" // the only copy lives in c.token, so that rotation is atomic
	return c
}

// SetAccessToken replaces the access token for the requests that follow (token rotation
// without a restart).
func (c *Client) SetAccessToken(token string) { c.token.Store(&token) }

func (c *Client) accessToken() string { return *c.token.Load() }

// Limiter returns the Client's pacer, to share it with another Client.
func (c *Client) Limiter() Pacer { return c.limiter }

// MessagesURL is the endpoint messages are posted to.
func (c *Client) MessagesURL() string {
	return graph.URL(c.cfg.BaseURL, c.cfg.APIVersion, c.cfg.PhoneNumberID, "messages")
}

// Send renders m, paces it and posts each of its requests, retrying throttle and transient
// errors as the package documentation describes. It returns the wamids of the messages Meta
// accepted (none for a read receipt); when a later part of a split text fails, the ids of the
// parts already sent come back with the error. Graph errors are [*Error] (errors.As); a closed
// customer-service window matches [msg.ErrWindowClosed] (errors.Is).
func (c *Client) Send(ctx context.Context, m *msg.Message) (ids []string, err error) {
	reqs, err := Render(m)
	if err != nil {
		return nil, err
	}
	if err := c.configured(); err != nil {
		return nil, err
	}
	for i, r := range reqs {
		id, err := c.do(ctx, r, m.NoRetryOnRateLimit)
		if err != nil {
			if len(reqs) > 1 {
				return ids, fmt.Errorf("whatsapp: send %s part %d of %d: %w", r.Type, i+1, len(reqs), err)
			}
			return ids, fmt.Errorf("whatsapp: send %s: %w", r.Type, err)
		}
		if id != "" {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// Check reads the phone number (GET /{version}/{phone-number-id}) to prove that the
// configuration and the token work. It makes one attempt and returns the [*Error] on failure.
func (c *Client) Check(ctx context.Context) error {
	if err := c.configured(); err != nil {
		return err
	}
	u := graph.URL(c.cfg.BaseURL, c.cfg.APIVersion, c.cfg.PhoneNumberID)
	if _, err := c.roundTrip(ctx, http.MethodGet, u, nil); err != nil {
		return fmt.Errorf("whatsapp: checking phone number %s: %w", c.cfg.PhoneNumberID, err)
	}
	return nil
}

func (c *Client) configured() error {
	switch {
	case c.cfg.PhoneNumberID == "":
		return fmt.Errorf("whatsapp: no phone number id: %w", ErrNotConfigured)
	case c.accessToken() == "":
		return fmt.Errorf("whatsapp: no access token: %w", ErrNotConfigured)
	}
	return nil
}

// do sends one request with pacing and retries and returns the message id.
func (c *Client) do(ctx context.Context, r Request, noRetryOnRateLimit bool) (string, error) {
	phone := c.cfg.PhoneNumberID
	start := c.cfg.Clock.Now()
	for attempt := 1; ; attempt++ {
		// The first attempt waits on the recipient's pacing and the number's throughput; a
		// retry only on the throughput (its delay already spaced it out).
		if err := c.pace(ctx, attempt, r.To); err != nil {
			return "", err
		}
		body, err := c.roundTrip(ctx, http.MethodPost, c.MessagesURL(), r.Body)
		if err == nil {
			return parseSuccess(r, body)
		}
		if ctx.Err() != nil { // the caller gave up: no retry
			return "", fmt.Errorf("attempt %d: %w", attempt, err)
		}
		switch {
		case !err.Retryable():
			return "", fmt.Errorf("attempt %d: %w", attempt, err)
		case err.Class == ClassThrottle && noRetryOnRateLimit:
			return "", fmt.Errorf("attempt %d, no retry on rate limit: %w", attempt, err)
		case attempt >= c.cfg.MaxAttempts:
			c.giveUp(ctx, r, attempt, err, "attempts exhausted")
			return "", fmt.Errorf("attempt %d of %d: %w", attempt, c.cfg.MaxAttempts, err)
		}
		delay := c.backoff(attempt, err)
		if c.cfg.Clock.Now().Add(delay).Sub(start) > c.cfg.MaxRetryTime {
			c.giveUp(ctx, r, attempt, err, "retry time exhausted")
			return "", fmt.Errorf("attempt %d, retry time %s exhausted: %w", attempt, c.cfg.MaxRetryTime, err)
		}
		if err.Code == CodePairRateLimit && r.To != "" {
			c.limiter.Defer(phone, r.To, delay)
		}
		if c.cfg.OnRetry != nil {
			c.cfg.OnRetry(err)
		}
		c.log.LogAttrs(ctx, slog.LevelWarn, "whatsapp: retrying request",
			slog.String("phone_number_id", phone), slog.String("type", r.Type),
			slog.Int("attempt", attempt), slog.Int("http_status", err.HTTPStatus),
			slog.Int("code", err.Code), slog.String("class", string(err.Class)),
			slog.Duration("delay", delay), slog.String("trace_id", err.TraceID))
		if serr := c.cfg.Clock.Sleep(ctx, delay); serr != nil {
			return "", fmt.Errorf("attempt %d, waiting to retry: %w (after %w)", attempt, serr, err)
		}
	}
}

// pace waits for the limiter before an attempt.
func (c *Client) pace(ctx context.Context, attempt int, to string) error {
	if attempt == 1 {
		return c.limiter.Wait(ctx, c.cfg.PhoneNumberID, to)
	}
	return c.limiter.WaitNumber(ctx, c.cfg.PhoneNumberID)
}

func (c *Client) giveUp(ctx context.Context, r Request, attempt int, err *Error, why string) {
	c.log.LogAttrs(ctx, slog.LevelWarn, "whatsapp: giving up request",
		slog.String("phone_number_id", c.cfg.PhoneNumberID), slog.String("type", r.Type),
		slog.Int("attempts", attempt), slog.String("reason", why),
		slog.Int("code", err.Code), slog.String("class", string(err.Class)))
}

// backoff is the delay before retrying after the attempt-th attempt failed with e: 4^(n-1) s
// for the pair rate limit (Meta's advice), else exponential with full jitter; a Retry-After
// header is a floor.
func (c *Client) backoff(attempt int, e *Error) time.Duration {
	var d time.Duration
	if e.Code == CodePairRateLimit {
		d = time.Second
		for i := 1; i < attempt && d < time.Hour; i++ {
			d *= 4
		}
	} else {
		ceil := c.cfg.BackoffBase
		for i := 1; i < attempt && ceil < c.cfg.BackoffMax; i++ {
			ceil *= 2
		}
		d = c.cfg.Jitter(min(ceil, c.cfg.BackoffMax))
	}
	return max(d, e.RetryAfter)
}

// roundTrip makes one HTTP request with the per-attempt timeout and returns the body of a 2xx
// answer, or the Error.
func (c *Client) roundTrip(ctx context.Context, method, u string, body []byte) ([]byte, *Error) {
	token := c.accessToken()
	actx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(actx, method, u, rd)
	if err != nil {
		e := &Error{Class: ClassPermanent, Message: "cannot build request", Err: err}
		e.redact(token)
		return nil, e
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		e := &Error{Class: ClassTransient, Message: "request failed", Err: err}
		e.redact(token)
		return nil, e
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil {
		e := &Error{HTTPStatus: resp.StatusCode, Class: ClassTransient, Message: "reading response failed", Err: err}
		e.redact(token)
		return nil, e
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// Redact the body before it is parsed and cut to a snippet, so that no piece of an
		// echoed token survives the cut; then every field, for good measure.
		if token != "" {
			data = bytes.ReplaceAll(data, []byte(token), []byte(redactedText))
		}
		e := parseError(resp.StatusCode, resp.Header, data, c.cfg.Clock.Now())
		e.redact(token)
		return nil, e
	}
	return data, nil
}

// sendResponse is the success answer: messages[0].id for a message, success for a read receipt.
type sendResponse struct {
	Messages []struct {
		ID            string `json:"id"`
		MessageStatus string `json:"message_status"`
	} `json:"messages"`
	Success bool `json:"success"`
}

func parseSuccess(r Request, body []byte) (string, error) {
	var sr sendResponse
	err := json.Unmarshal(body, &sr)
	switch {
	case err == nil && r.Type == "read" && sr.Success:
		return "", nil
	case err == nil && r.Type != "read" && len(sr.Messages) > 0 && sr.Messages[0].ID != "":
		return sr.Messages[0].ID, nil
	}
	// Meta answered 2xx, so it may well have accepted the message: do not retry.
	return "", &Error{HTTPStatus: http.StatusOK, Class: ClassPermanent, Message: "unexpected success response: " + graph.Excerpt(body)}
}
