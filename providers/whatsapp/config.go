package whatsapp

import (
	"time"

	"github.com/flowgate/flowgate/providers/meta"
)

// Pacing defaults of a phone number (Meta's documented throughput and pair rate).
const (
	DefaultRatePerSecond = meta.DefaultRatePerSecond
	DefaultPairInterval  = meta.DefaultPairInterval
	DefaultPairBurst     = meta.DefaultPairBurst
	MaxPairBurst         = meta.MaxPairBurst
)

// Config configures a [Client]: the phone number, the Graph API client settings every Meta
// channel shares (token, version, base URL, retries, clock, limiter), and the pacing of the
// default in-process limiter.
type Config struct {
	PhoneNumberID string // the business phone number id messages are sent from
	meta.ClientConfig

	// RatePerSecond is the phone number's throughput: the token bucket's rate (default 80).
	RatePerSecond float64
	// Burst is the token bucket's size, default one second's worth of RatePerSecond.
	Burst int
	// PairInterval is the steady pace of messages to one recipient (default 6 s).
	PairInterval time.Duration
	// PairBurst is how many messages one recipient may get at once before pacing applies
	// (default 10, at most 45). See the package documentation.
	PairBurst int
}

// account is what the shared Graph client needs to know of the phone number.
func (c Config) account() meta.Account {
	return meta.Account{
		Channel: Name, ID: c.PhoneNumberID, PaceRecipients: true,
		Limiter: meta.LimiterConfig{RatePerSecond: c.RatePerSecond, Burst: c.Burst, PairInterval: c.PairInterval, PairBurst: c.PairBurst},
	}
}
