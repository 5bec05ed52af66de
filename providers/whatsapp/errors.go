package whatsapp

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/providers/graph"
)

// Class says how to handle a Graph API error (reference section 3).
type Class string

// Error classes.
const (
	ClassThrottle  Class = "throttle"  // slow down and retry later (T)
	ClassTransient Class = "transient" // retry with bounded backoff (R)
	ClassPermanent Class = "permanent" // do not retry as is: change the message or strategy (N)
	ClassAuth      Class = "auth"      // fix the token, permissions or registration, then retry (F)
	ClassPolicy    Class = "policy"    // account or policy state: stop and alert a human (P)
)

// Error codes with a meaning of their own in this package.
const (
	CodeWindowClosed  = 131047 // re-engagement: more than 24 h since the user last wrote
	CodePairRateLimit = 131056 // too many messages to the same recipient
	CodeThroughput    = 130429 // the phone number's throughput reached
)

// Error is an error answered by the Graph API, or a transport failure while talking to it
// (then HTTPStatus and Code are 0, Class is ClassTransient and Err is the cause). Its text never
// contains the access token.
type Error struct {
	HTTPStatus int
	Code       int
	Subcode    int
	Type       string // e.g. OAuthException
	Title      string // the title: error_user_title, or the message without its "(#code) " prefix
	Message    string // the message as sent
	Details    string // error_data.details, or error_user_msg
	TraceID    string // fbtrace_id, for Meta support
	Class      Class
	// RetryAfter is the delay the Retry-After header asked for, when there was one.
	RetryAfter time.Duration
	// Err is the underlying transport error, for network failures and timeouts.
	Err error
}

// Error describes the error with its code, class and trace id.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("whatsapp: ")
	switch {
	case e.Code != 0:
		fmt.Fprintf(&b, "graph error %d", e.Code)
		if e.Subcode != 0 {
			fmt.Fprintf(&b, "/%d", e.Subcode)
		}
		if e.Title != "" {
			fmt.Fprintf(&b, " (%s)", e.Title)
		}
	case e.HTTPStatus != 0:
		fmt.Fprintf(&b, "graph http %d", e.HTTPStatus)
	default:
		b.WriteString("graph request failed")
	}
	if e.Details != "" {
		b.WriteString(": ")
		b.WriteString(e.Details)
	} else if e.Message != "" && e.Message != e.Title {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	fmt.Fprintf(&b, " [class %s", e.Class)
	if e.HTTPStatus != 0 && e.Code != 0 {
		fmt.Fprintf(&b, ", http %d", e.HTTPStatus)
	}
	if e.TraceID != "" {
		fmt.Fprintf(&b, ", trace %s", e.TraceID)
	}
	b.WriteString("]")
	return b.String()
}

// Unwrap returns the transport error, if any.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether e means target: msg.ErrWindowClosed for code 131047.
func (e *Error) Is(target error) bool {
	return target == msg.ErrWindowClosed && e.Code == CodeWindowClosed
}

// Retryable reports whether the request may be retried as is (throttle and transient errors).
func (e *Error) Retryable() bool {
	return e.Class == ClassThrottle || e.Class == ClassTransient
}

// Classify returns the class of a Graph API error code answered with an HTTP status, per the
// reference's table: HTTP 429 is always a throttle; a known code has its documented class;
// codes 200-299 and HTTP 401 are auth; otherwise an error is transient when the status is 5xx
// and permanent when it is not. Code 0 (AuthException) comes with HTTP 401.
func Classify(httpStatus, code int) Class {
	if httpStatus == http.StatusTooManyRequests {
		return ClassThrottle
	}
	if c, ok := codeClass[code]; ok {
		return c
	}
	if (code >= 200 && code <= 299) || httpStatus == http.StatusUnauthorized {
		return ClassAuth
	}
	if httpStatus >= 500 {
		return ClassTransient
	}
	return ClassPermanent
}

// codeClass is reference section 3 as data. Codes not listed are permanent (or transient when
// answered with a 5xx status).
var codeClass = map[int]Class{
	// T: throttle.
	4: ClassThrottle, 17: ClassThrottle, 32: ClassThrottle, 613: ClassThrottle,
	80007: ClassThrottle, 130429: ClassThrottle, 131048: ClassThrottle, 131056: ClassThrottle,
	133016: ClassThrottle,
	// R: transient.
	1: ClassTransient, 2: ClassTransient, 1200: ClassTransient, 131000: ClassTransient,
	131016: ClassTransient, 131053: ClassTransient, 131057: ClassTransient, 133004: ClassTransient,
	// F: auth, permissions, registration.
	3: ClassAuth, 10: ClassAuth, 190: ClassAuth, 131005: ClassAuth, 131045: ClassAuth,
	133010: ClassAuth,
	// P: policy and account state.
	33: ClassPolicy, 368: ClassPolicy, 130497: ClassPolicy, 131031: ClassPolicy,
	131037: ClassPolicy, 131042: ClassPolicy, 2022: ClassPolicy, 10904: ClassPolicy,
	// N: permanent (listed for documentation; the default would give the same answer on 4xx).
	100: ClassPermanent, 130472: ClassPermanent, 131008: ClassPermanent, 131009: ClassPermanent,
	131021: ClassPermanent, 131026: ClassPermanent, 131047: ClassPermanent, 131049: ClassPermanent,
	131050: ClassPermanent, 131051: ClassPermanent, 131052: ClassPermanent, 132000: ClassPermanent,
	132001: ClassPermanent, 132005: ClassPermanent, 132007: ClassPermanent, 132012: ClassPermanent,
	132015: ClassPermanent, 132016: ClassPermanent, 132068: ClassPermanent, 132069: ClassPermanent,
	135000: ClassPermanent, 131014: ClassPermanent, 230: ClassPermanent, 551: ClassPermanent,
}

// parseError builds the Error for a non-2xx response from Meta's envelope (graph.ParseError),
// adding the retry class and Retry-After (an HTTP date counts from now, the client's clock).
// body may be anything: an HTML error page from a proxy gives an Error with the status and
// an excerpt.
func parseError(status int, header http.Header, body []byte, now time.Time) *Error {
	g := graph.ParseError(status, body)
	e := &Error{HTTPStatus: status, Code: g.Code, Subcode: g.Subcode, Type: g.Type, Title: g.Title,
		Message: g.Message, Details: g.Details, TraceID: g.TraceID}
	e.Class = Classify(status, e.Code)
	if header != nil {
		e.RetryAfter = parseRetryAfter(header.Get("Retry-After"), now)
	}
	return e
}

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s <= 0 {
			return 0
		}
		const maxRetryAfter = 7 * 24 * time.Hour // far beyond any retry budget; no overflow
		return time.Duration(min(s, int(maxRetryAfter/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// redactedText stands in for the access token wherever Meta or a proxy echoed it.
const redactedText = "[redacted]"

// redact removes the secret from every text field of e.
func (e *Error) redact(secret string) {
	if secret == "" {
		return
	}
	r := func(s string) string { return strings.ReplaceAll(s, secret, redactedText) }
	e.Title, e.Message, e.Details, e.Type, e.TraceID = r(e.Title), r(e.Message), r(e.Details), r(e.Type), r(e.TraceID)
	if e.Err != nil && strings.Contains(e.Err.Error(), secret) {
		e.Err = redactedError{msg: r(e.Err.Error()), cause: e.Err}
	}
}

// redactedError keeps a redacted text while still unwrapping to the cause, so that
// errors.Is(err, context.DeadlineExceeded) keeps working.
type redactedError struct {
	msg   string
	cause error
}

func (r redactedError) Error() string { return r.msg }
func (r redactedError) Unwrap() error { return r.cause }

// ErrorCode returns the Graph API error code (0 for network errors), for metrics.
func (e *Error) ErrorCode() int { return e.Code }
