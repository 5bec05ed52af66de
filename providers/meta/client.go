package meta

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/flowgate/flowgate/providers/channel"
)

// Defaults applied by NewClient to zero fields of a ClientConfig.
const (
	DefaultAPIVersion     = "v21.0"
	DefaultBaseURL        = "https://graph.facebook.com"
	DefaultMaxAttempts    = 5
	DefaultMaxRetryTime   = 30 * time.Second
	DefaultRequestTimeout = 15 * time.Second
	DefaultBackoffBase    = 500 * time.Millisecond
	DefaultBackoffMax     = 10 * time.Second
)

// maxResponseBody caps how much of a Graph API response is read.
const maxResponseBody = 1 << 20

// ErrNotConfigured is returned, wrapped, when a Client lacks its account id or access token.
var ErrNotConfigured = errors.New("graph client not configured")

// ClientConfig is what every channel's Graph API client shares: the token, where the API is,
// how requests are retried, and what they wait on. The channel packages embed it in their own
// configuration, next to their account id.
type ClientConfig struct {
	AccessToken string // never logged
	APIVersion  string // Graph API version, default DefaultAPIVersion
	BaseURL     string // Graph API base URL without version, default DefaultBaseURL

	// MaxAttempts bounds the attempts per request, the first included (default 5).
	MaxAttempts int
	// MaxRetryTime bounds the time from the first attempt to the start of the last (default 30 s).
	MaxRetryTime time.Duration
	// RequestTimeout bounds one HTTP attempt (default 15 s).
	RequestTimeout time.Duration
	// BackoffBase and BackoffMax shape the exponential backoff (defaults 500 ms and 10 s).
	BackoffBase time.Duration
	BackoffMax  time.Duration

	// HTTPClient sends the requests (default a client without its own timeout: RequestTimeout
	// applies through the request context).
	HTTPClient *http.Client
	// Clock tells the time and sleeps; default the real clock. Tests inject a fake one.
	Clock channel.Clock
	// Jitter returns a uniformly random duration in [0, n); default math/rand/v2. Tests inject a
	// deterministic one.
	Jitter func(n time.Duration) time.Duration
	// Limiter holds the throughput (and, for WhatsApp, pair-rate) schedules. The channel
	// packages default it to an in-process Limiter with their own rates; share one between
	// clients of the same account so that they draw on the same budget, or use one kept in
	// Redis to share it between processes.
	Limiter channel.Pacer
	// OnRetry, when set, is called before each retry with the error that caused it (metrics).
	OnRetry func(e *Error)
	// Logger receives retry and failure logs; default slog.Default(). Tokens are never logged.
	Logger *slog.Logger
}

// withDefaults applies the defaults to c's zero fields; pacer builds the default Limiter.
func (c ClientConfig) withDefaults(pacer func(channel.Clock) channel.Pacer) ClientConfig {
	if c.APIVersion == "" {
		c.APIVersion = DefaultAPIVersion
	}
	if c.BaseURL == "" {
		c.BaseURL = DefaultBaseURL
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.MaxRetryTime <= 0 {
		c.MaxRetryTime = DefaultMaxRetryTime
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.BackoffBase <= 0 {
		c.BackoffBase = DefaultBackoffBase
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = DefaultBackoffMax
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	if c.Clock == nil {
		c.Clock = channel.RealClock{}
	}
	if c.Jitter == nil {
		c.Jitter = randomJitter
	}
	if c.Limiter == nil {
		c.Limiter = pacer(c.Clock)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

func randomJitter(n time.Duration) time.Duration {
	if n <= 0 {
		return 0
	}
	return rand.N(n)
}

// Account names the business account a Client sends for and how its sends are paced.
type Account struct {
	Channel string // the channel, for logs: whatsapp, messenger, instagram
	ID      string // phone number id, page id or Instagram account id: the pacing key
	// PaceRecipients makes every message wait on its recipient's schedule too (WhatsApp's
	// pair rate limit); otherwise only the account's throughput paces.
	PaceRecipients bool
	// Limiter builds the default pacer when the configuration has none.
	Limiter LimiterConfig
}

// Request is one rendered Graph API request.
type Request struct {
	Type string          // what it carries (text, image, typing_on...), for logs and errors
	To   string          // the recipient; empty for a request that is not paced per recipient
	Body json.RawMessage // the JSON body
}

// Client posts a channel's requests to the Graph API: paced, retried on throttling and
// transient errors with exponential backoff and full jitter, and never logging the token. It is
// safe for concurrent use.
//
// Each attempt waits on the Limiter first: the first on the recipient's pace (when the account
// paces recipients) and the account's throughput, a retry only on the throughput (its delay
// already spaced it out). Errors from the Graph API become [*Error] with a [Class]. Throttle and
// transient errors are retried: exponential backoff with full jitter (BackoffBase·2^n capped at
// BackoffMax, drawn uniformly from [0, cap)), except WhatsApp's pair rate limit (131056), which
// follows Meta's advice of 4^n seconds and pushes the recipient's schedule back so that
// concurrent sends to the same user wait too; a Retry-After header is a floor on the delay.
// Retries stop after MaxAttempts attempts or when the next delay would end beyond MaxRetryTime
// since the first attempt, and throttle errors are not retried at all when the caller asks so.
// The send APIs have no idempotency key, so a retry after a timeout can duplicate a message that
// Meta did accept; the bounded retry budget keeps that rare.
type Client struct {
	cfg     ClientConfig
	account Account
	token   atomic.Pointer[string]
	log     *slog.Logger
}

// NewClient returns a Client for account, with defaults applied to cfg's zero fields.
func NewClient(account Account, cfg ClientConfig) *Client {
	cfg = cfg.withDefaults(func(clk channel.Clock) channel.Pacer {
		lc := account.Limiter
		lc.Clock = clk
		return NewLimiter(lc)
	})
	c := &Client{cfg: cfg, account: account, log: cfg.Logger}
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
func (c *Client) Limiter() channel.Pacer { return c.cfg.Limiter }

// URL is the Graph API URL of the path segments below the configured version.
func (c *Client) URL(segments ...string) string {
	return URL(c.cfg.BaseURL, c.cfg.APIVersion, segments...)
}

// Configured returns an error wrapping ErrNotConfigured when the account id or the token is
// missing.
func (c *Client) Configured() error {
	switch {
	case c.account.ID == "":
		return fmt.Errorf("%s: no account id: %w", c.account.Channel, ErrNotConfigured)
	case c.accessToken() == "":
		return fmt.Errorf("%s: no access token: %w", c.account.Channel, ErrNotConfigured)
	}
	return nil
}

// Get makes one GET request (no pacing, no retry) and returns the body of a 2xx answer, or
// the [*Error].
func (c *Client) Get(ctx context.Context, u string) ([]byte, error) {
	body, err := c.roundTrip(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	return body, nil
}

// Post sends r to u with pacing and retries, and returns the body of the 2xx answer. The
// error wraps the last attempt's [*Error] (errors.As) and says how many attempts were made.
func (c *Client) Post(ctx context.Context, u string, r Request, noRetryOnRateLimit bool) ([]byte, error) {
	start := c.cfg.Clock.Now()
	for attempt := 1; ; attempt++ {
		if err := c.pace(ctx, attempt, r.To); err != nil {
			return nil, err
		}
		body, err := c.roundTrip(ctx, http.MethodPost, u, r.Body)
		if err == nil {
			return body, nil
		}
		if ctx.Err() != nil { // the caller gave up: no retry
			return nil, fmt.Errorf("attempt %d: %w", attempt, err)
		}
		switch {
		case !err.Retryable():
			return nil, fmt.Errorf("attempt %d: %w", attempt, err)
		case err.Class == ClassThrottle && noRetryOnRateLimit:
			return nil, fmt.Errorf("attempt %d, no retry on rate limit: %w", attempt, err)
		case attempt >= c.cfg.MaxAttempts:
			c.giveUp(ctx, r, attempt, err, "attempts exhausted")
			return nil, fmt.Errorf("attempt %d of %d: %w", attempt, c.cfg.MaxAttempts, err)
		}
		delay := c.backoff(attempt, err)
		if c.cfg.Clock.Now().Add(delay).Sub(start) > c.cfg.MaxRetryTime {
			c.giveUp(ctx, r, attempt, err, "retry time exhausted")
			return nil, fmt.Errorf("attempt %d, retry time %s exhausted: %w", attempt, c.cfg.MaxRetryTime, err)
		}
		if err.Code == CodePairRateLimit && r.To != "" && c.account.PaceRecipients {
			c.cfg.Limiter.Defer(c.account.ID, r.To, delay)
		}
		if c.cfg.OnRetry != nil {
			c.cfg.OnRetry(err)
		}
		c.log.LogAttrs(ctx, slog.LevelWarn, c.account.Channel+": retrying request",
			slog.String("account", c.account.ID), slog.String("type", r.Type),
			slog.Int("attempt", attempt), slog.Int("http_status", err.HTTPStatus),
			slog.Int("code", err.Code), slog.String("class", string(err.Class)),
			slog.Duration("delay", delay), slog.String("trace_id", err.TraceID))
		if serr := c.cfg.Clock.Sleep(ctx, delay); serr != nil {
			return nil, fmt.Errorf("attempt %d, waiting to retry: %w (after %w)", attempt, serr, err)
		}
	}
}

// PostAll posts reqs to u in order, each as Post does, and returns the ids read from the
// answers by id (empty ids are left out: sender actions, read receipts). When a request fails
// for good the ids of those already accepted come back with the error, which says which part
// it was; the parts after it are not sent.
func (c *Client) PostAll(ctx context.Context, u string, reqs []Request, noRetryOnRateLimit bool, id func(r Request, answer []byte) (string, error)) ([]string, error) {
	var ids []string
	for i, r := range reqs {
		body, err := c.Post(ctx, u, r, noRetryOnRateLimit)
		var got string
		if err == nil {
			got, err = id(r, body)
		}
		if err != nil {
			if len(reqs) > 1 {
				return ids, fmt.Errorf("%s: send %s part %d of %d: %w", c.account.Channel, r.Type, i+1, len(reqs), err)
			}
			return ids, fmt.Errorf("%s: send %s: %w", c.account.Channel, r.Type, err)
		}
		if got != "" {
			ids = append(ids, got)
		}
	}
	return ids, nil
}

// pace waits for the limiter before an attempt.
func (c *Client) pace(ctx context.Context, attempt int, to string) error {
	if attempt == 1 && to != "" && c.account.PaceRecipients {
		return c.cfg.Limiter.Wait(ctx, c.account.ID, to)
	}
	return c.cfg.Limiter.WaitNumber(ctx, c.account.ID)
}

func (c *Client) giveUp(ctx context.Context, r Request, attempt int, err *Error, why string) {
	c.log.LogAttrs(ctx, slog.LevelWarn, c.account.Channel+": giving up request",
		slog.String("account", c.account.ID), slog.String("type", r.Type),
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

// UnexpectedSuccess is the error for a 2xx answer whose body is not the success shape the
// request expects. Meta answered 2xx, so it may well have accepted the message: it is
// permanent, never retried.
func UnexpectedSuccess(body []byte) *Error {
	return &Error{HTTPStatus: http.StatusOK, Class: ClassPermanent, Message: "unexpected success response: " + Excerpt(body)}
}
