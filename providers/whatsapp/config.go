package whatsapp

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
)

// Defaults applied by [Config.withDefaults] to zero fields.
const (
	DefaultAPIVersion     = "v21.0"
	DefaultBaseURL        = "https://graph.facebook.com"
	DefaultRatePerSecond  = 80
	DefaultPairInterval   = 6 * time.Second
	DefaultPairBurst      = 10
	MaxPairBurst          = 45
	DefaultMaxAttempts    = 5
	DefaultMaxRetryTime   = 30 * time.Second
	DefaultRequestTimeout = 15 * time.Second
	DefaultBackoffBase    = 500 * time.Millisecond
	DefaultBackoffMax     = 10 * time.Second
)

// Config configures a [Client]. Only PhoneNumberID and AccessToken are required to send;
// AppSecret and VerifyToken are carried here for the webhook side ([CheckSignature], [Verify]).
type Config struct {
	PhoneNumberID string // the business phone number id messages are sent from
	AccessToken   string // system-user or business token; never logged
	AppSecret     string // app secret used to check webhook signatures
	VerifyToken   string // token expected in the webhook verification handshake
	APIVersion    string // Graph API version, default DefaultAPIVersion
	BaseURL       string // Graph API base URL without version, default DefaultBaseURL

	// RatePerSecond is the phone number's throughput: the token bucket's rate (default 80).
	RatePerSecond float64
	// Burst is the token bucket's size, default one second's worth of RatePerSecond.
	Burst int
	// PairInterval is the steady pace of messages to one recipient (default 6 s).
	PairInterval time.Duration
	// PairBurst is how many messages one recipient may get at once before pacing applies
	// (default 10, at most 45). See the package documentation.
	PairBurst int

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
	Clock Clock
	// Jitter returns a uniformly random duration in [0, n); default math/rand/v2. Tests inject a
	// deterministic one.
	Jitter func(n time.Duration) time.Duration
	// Limiter holds the throughput and pair-rate state; default a new in-process [Limiter] per
	// Client. Share one between Clients of the same phone number so that they draw on the same
	// buckets; a Pacer kept in Redis shares them between processes.
	Limiter Pacer
	// OnRetry, when set, is called before each retry with the error that caused it (metrics).
	OnRetry func(e *Error)
	// Logger receives retry and failure logs; default slog.Default(). Tokens are never logged.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.APIVersion == "" {
		c.APIVersion = DefaultAPIVersion
	}
	if c.BaseURL == "" {
		c.BaseURL = DefaultBaseURL
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.RatePerSecond <= 0 {
		c.RatePerSecond = DefaultRatePerSecond
	}
	if c.Burst <= 0 {
		c.Burst = max(1, int(c.RatePerSecond))
	}
	if c.PairInterval <= 0 {
		c.PairInterval = DefaultPairInterval
	}
	if c.PairBurst <= 0 {
		c.PairBurst = DefaultPairBurst
	}
	c.PairBurst = min(c.PairBurst, MaxPairBurst)
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
		c.Clock = RealClock{}
	}
	if c.Jitter == nil {
		c.Jitter = randomJitter
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

// Clock tells the time and sleeps. Sleep returns ctx.Err() as soon as ctx is done.
type Clock interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}

// RealClock is the wall clock.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// Sleep waits for d or until ctx is done, whichever comes first.
func (RealClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
