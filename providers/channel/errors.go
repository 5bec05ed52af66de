package channel

import (
	"errors"
	"fmt"
)

// MaxEventsPerBody is the most events one webhook body may carry. Meta batches at most 1,000
// updates in one delivery; a body with more is not one of Meta's, and a provider's Parse
// refuses it, having counted them, before it builds a single event.
const MaxEventsPerBody = 1000

// ErrTooManyEvents is returned, wrapped, by a provider's Parse for a body with more than
// MaxEventsPerBody events; the server answers it 413.
var ErrTooManyEvents = errors.New("too many events in one webhook body")

// TooManyEvents is the error Parse returns for a body of channel name that carries at least n
// events, more than MaxEventsPerBody.
func TooManyEvents(name string, n int) error {
	return fmt.Errorf("%s: parsing webhook: %d events or more, more than %d: %w", name, n, MaxEventsPerBody, ErrTooManyEvents)
}

// Errors a provider's webhook check returns, wrapped; the server answers both with 401.
var (
	// ErrBadSignature: the request's signature is missing, malformed or wrong.
	ErrBadSignature = errors.New("webhook signature invalid")
	// ErrNoAppSecret: the account has no secret to check the signature with (a configuration
	// problem, not a bad request).
	ErrNoAppSecret = errors.New("no app secret to check the webhook signature with")
)
