package meta

import (
	"context"
	"net/http"
	"net/url"

	"github.com/flowgate/flowgate/providers/channel"
)

// Webhooks is the webhook side every Meta channel shares: the hub.* handshake and the
// X-Hub-Signature-256 check. The channel providers embed it to implement the matching
// methods of channel.Provider.
type Webhooks struct{}

// Verify answers the verification handshake; see the package function Verify.
func (Webhooks) Verify(q url.Values, verifyToken string) (string, bool) {
	return Verify(q, verifyToken)
}

// Authenticate checks the X-Hub-Signature-256 header over the raw body.
func (Webhooks) Authenticate(h http.Header, body []byte, appSecret string) error {
	return CheckSignature(h.Get(SignatureHeader), body, appSecret)
}

// Sign sets the X-Hub-Signature-256 header Meta would send with body.
func (Webhooks) Sign(h http.Header, body []byte, appSecret string) {
	h.Set(SignatureHeader, SignatureHeaderValue(body, appSecret))
}

// ClientConfigFor is the shared client configuration of a channel account sending with the
// host's options; defaultBaseURL stands in for an account without a base URL.
func ClientConfigFor(a channel.Account, o channel.SendOptions, defaultBaseURL string) ClientConfig {
	c := ClientConfig{
		AccessToken: a.Token, APIVersion: a.APIVersion, BaseURL: a.BaseURL,
		HTTPClient: o.HTTPClient, Clock: o.Clock, Jitter: o.Jitter, Limiter: o.Pacer, Logger: o.Logger,
	}
	if c.BaseURL == "" {
		c.BaseURL = defaultBaseURL
	}
	if o.OnRetry != nil {
		c.OnRetry = func(e *Error) { o.OnRetry(e.Code) }
	}
	return c
}

// CheckAccount is Check for a channel account: GET {base}/{version}/{account id}.
func CheckAccount(ctx context.Context, hc *http.Client, a channel.Account, defaultBaseURL string) error {
	base, version := a.BaseURL, a.APIVersion
	if base == "" {
		base = defaultBaseURL
	}
	if version == "" {
		version = DefaultAPIVersion
	}
	return Check(ctx, hc, base, version, a.ID, a.Token)
}
