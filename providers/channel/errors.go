package channel

import "errors"

// Errors a provider's webhook check returns, wrapped; the server answers both with 401.
var (
	// ErrBadSignature: the request's signature is missing, malformed or wrong.
	ErrBadSignature = errors.New("webhook signature invalid")
	// ErrNoAppSecret: the account has no secret to check the signature with (a configuration
	// problem, not a bad request).
	ErrNoAppSecret = errors.New("no app secret to check the webhook signature with")
)
