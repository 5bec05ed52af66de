package meta

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/flowgate/flowgate/engine/msg"
)

// Class says how to handle a Graph API error.
type Class string

// Error classes.
const (
	ClassThrottle  Class = "throttle"  // slow down and retry later
	ClassTransient Class = "transient" // retry with bounded backoff
	ClassPermanent Class = "permanent" // do not retry as is: change the message or strategy
	ClassAuth      Class = "auth"      // fix the token, permissions or registration, then retry
	ClassPolicy    Class = "policy"    // account or policy state: stop and alert a human
)

// Error codes with a meaning of their own.
const (
	CodeWindowClosed     = 131047  // WhatsApp re-engagement: more than 24 h since the user last wrote
	CodePairRateLimit    = 131056  // WhatsApp: too many messages to the same recipient
	CodeThroughput       = 130429  // WhatsApp: the phone number's throughput reached
	CodePermission       = 10      // permission denied; with SubcodeOutsideWindow, the window
	SubcodeOutsideWindow = 2018278 // Messenger/Instagram: "sent outside of allowed window"
)

// outsideWindowText is how Messenger words its window refusal. The code and subcode that come
// with it are not documented firmly, so the text is matched too.
const outsideWindowText = "outside of allowed window"

// Error is an error answered by the Graph API, parsed from Meta's envelope
//
//	{"error": {"message", "type", "code", "error_subcode", "error_user_title", "error_user_msg",
//	           "error_data", "fbtrace_id"}}
//
// or a transport failure while talking to it (then HTTPStatus and Code are 0, Class is
// ClassTransient and Err is the cause). When the body is not the envelope (a proxy's HTML
// page), Code is 0 and Message holds a short excerpt of it. Its text never contains the access
// token.
type Error struct {
	HTTPStatus int
	Code       int
	Subcode    int
	Type       string // e.g. OAuthException
	Title      string // error_user_title, or the message without its "(#code) " prefix
	Message    string // the message as sent
	Details    string // error_data.details (WhatsApp), or error_user_msg
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
	if e.Type != "" {
		fmt.Fprintf(&b, ", %s", e.Type)
	}
	if e.TraceID != "" {
		fmt.Fprintf(&b, ", trace %s", e.TraceID)
	}
	b.WriteString("]")
	return b.String()
}

// Unwrap returns the transport error, if any.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether e means target: msg.ErrWindowClosed when the channel refused the message
// because the conversation's window is closed (WhatsApp 131047; Messenger and Instagram code 10,
// subcode 2018278, "This message is sent outside of allowed window").
func (e *Error) Is(target error) bool {
	return target == msg.ErrWindowClosed && e.WindowClosed()
}

// WindowClosed reports whether the channel refused the message because the window is closed.
func (e *Error) WindowClosed() bool {
	switch {
	case e.Code == CodeWindowClosed:
		return true
	case e.Code == CodePermission && e.Subcode == SubcodeOutsideWindow:
		return true
	case e.Code != 0 && strings.Contains(strings.ToLower(e.Message), outsideWindowText):
		return true
	}
	return false
}

// Retryable reports whether the request may be retried as is (throttle and transient errors).
func (e *Error) Retryable() bool {
	return e.Class == ClassThrottle || e.Class == ClassTransient
}

// ErrorCode returns the Graph API error code (0 for network errors), for metrics.
func (e *Error) ErrorCode() int { return e.Code }

// Classify returns the class of a Graph API error code and subcode answered with an HTTP
// status: HTTP 429 is always a throttle; a window refusal is permanent (the engine falls back);
// a known code has its documented class; codes 200-299 and HTTP 401 are auth; otherwise an
// error is transient when the status is 5xx and permanent when it is not. Code 0
// (AuthException) comes with HTTP 401.
func Classify(httpStatus, code, subcode int) Class {
	if httpStatus == http.StatusTooManyRequests {
		return ClassThrottle
	}
	if code == CodePermission && subcode == SubcodeOutsideWindow {
		return ClassPermanent
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

// codeClass is Meta's error table as data, WhatsApp's codes and the Graph API's that Messenger
// and Instagram answer with. Codes not listed are permanent (or transient when answered with a
// 5xx status).
var codeClass = map[int]Class{
	// Throttle.
	4: ClassThrottle, 17: ClassThrottle, 32: ClassThrottle, 613: ClassThrottle,
	80002: ClassThrottle, 80006: ClassThrottle, 80007: ClassThrottle, 130429: ClassThrottle,
	131048: ClassThrottle, 131056: ClassThrottle, 133016: ClassThrottle,
	// Transient.
	1: ClassTransient, 2: ClassTransient, 1200: ClassTransient, 131000: ClassTransient,
	131016: ClassTransient, 131053: ClassTransient, 131057: ClassTransient, 133004: ClassTransient,
	// Auth, permissions, registration.
	3: ClassAuth, 10: ClassAuth, 190: ClassAuth, 131005: ClassAuth, 131045: ClassAuth,
	133010: ClassAuth,
	// Policy and account state.
	33: ClassPolicy, 368: ClassPolicy, 130497: ClassPolicy, 131031: ClassPolicy,
	131037: ClassPolicy, 131042: ClassPolicy, 2022: ClassPolicy, 10904: ClassPolicy,
	// Permanent (listed for documentation; the default would give the same answer on 4xx).
	100: ClassPermanent, 130472: ClassPermanent, 131008: ClassPermanent, 131009: ClassPermanent,
	131021: ClassPermanent, 131026: ClassPermanent, 131047: ClassPermanent, 131049: ClassPermanent,
	131050: ClassPermanent, 131051: ClassPermanent, 131052: ClassPermanent, 132000: ClassPermanent,
	132001: ClassPermanent, 132005: ClassPermanent, 132007: ClassPermanent, 132012: ClassPermanent,
	132015: ClassPermanent, 132016: ClassPermanent, 132068: ClassPermanent, 132069: ClassPermanent,
	135000: ClassPermanent, 131014: ClassPermanent, 230: ClassPermanent, 551: ClassPermanent,
	10900: ClassPermanent, 10903: ClassPermanent,
}

// parseError builds the Error for a non-2xx response from Meta's envelope, adding the retry
// class and Retry-After (an HTTP date counts from now, the client's clock). body may be
// anything: an HTML error page from a proxy gives an Error with the status and an excerpt.
func parseError(status int, header http.Header, body []byte, now time.Time) *Error {
	e := ParseError(status, body)
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
