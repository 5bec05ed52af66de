package meta

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// maxErrorBody bounds how much of an error response is read.
const maxErrorBody = 64 << 10

// envelope is Meta's error body. Codes are numbers, but a string in their place must not make
// the whole error unreadable; error_data is an object in WhatsApp errors and a string in some
// older Graph errors.
type envelope struct {
	Error *struct {
		Message   string    `json:"message"`
		Type      string    `json:"type"`
		Code      lenient   `json:"code"`
		Subcode   lenient   `json:"error_subcode"`
		UserTitle string    `json:"error_user_title"`
		UserMsg   string    `json:"error_user_msg"`
		FBTraceID string    `json:"fbtrace_id"`
		ErrorData ErrorData `json:"error_data"`
	} `json:"error"`
}

// lenient is an integer written as a JSON number or as a string holding one.
type lenient int

func (n *lenient) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		b = []byte(s)
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return nil // informative only: an unreadable code is no code
	}
	*n = lenient(v)
	return nil
}

// ErrorData is Meta's error_data, in API errors and in webhook errors alike: {"details": ...},
// or a plain string in some older Graph errors.
type ErrorData struct{ Details string }

// UnmarshalJSON reads either form; anything else leaves Details empty rather than failing.
func (d *ErrorData) UnmarshalJSON(b []byte) error {
	if json.Unmarshal(b, &d.Details) == nil {
		return nil
	}
	var o struct {
		Details string `json:"details"`
	}
	_ = json.Unmarshal(b, &o) // anything else is tolerated: it is informative only
	d.Details = o.Details
	return nil
}

// ParseError reads a non-2xx response's body into an *Error with its Class. A body that is not
// Meta's envelope (a proxy's HTML page) gives an Error whose Message is an excerpt of it.
func ParseError(status int, body []byte) *Error {
	e := parseEnvelope(status, body)
	e.Class = Classify(status, e.Code, e.Subcode)
	if e.WindowClosed() {
		e.Class = ClassPermanent
	}
	return e
}

func parseEnvelope(status int, body []byte) *Error {
	e := &Error{HTTPStatus: status}
	var env envelope
	if err := json.Unmarshal(body, &env); err == nil && env.Error != nil {
		ge := env.Error
		e.Code, e.Subcode = int(ge.Code), int(ge.Subcode)
		e.Type, e.Message, e.TraceID = ge.Type, ge.Message, ge.FBTraceID
		e.Title = ge.UserTitle
		if e.Title == "" {
			e.Title = stripCodePrefix(ge.Message)
		}
		e.Details = ge.ErrorData.Details
		if e.Details == "" {
			e.Details = ge.UserMsg
		}
		return e
	}
	e.Message = Excerpt(body)
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	return e
}

// stripCodePrefix turns "(#130429) Rate limit hit" into "Rate limit hit".
func stripCodePrefix(s string) string {
	if strings.HasPrefix(s, "(#") {
		if i := strings.Index(s, ") "); i > 0 {
			return s[i+2:]
		}
	}
	return s
}

// Excerpt is the start of an unexpected response body for an error text: white space folded,
// at most 200 bytes, cut on a character boundary.
func Excerpt(b []byte) string {
	const n = 200
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(b), "?")), " ")
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "") + "..."
	}
	return s
}

// URL joins the Graph API base URL, the version and the path segments:
// URL("https://graph.facebook.com", "v21.0", "123", "messages") is
// "https://graph.facebook.com/v21.0/123/messages". Segments are path-escaped.
func URL(baseURL, version string, segments ...string) string {
	var b strings.Builder
	b.WriteString(strings.TrimRight(baseURL, "/"))
	for _, s := range append([]string{version}, segments...) {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// Check asks the Graph API for the object id (a phone number id, page id or Instagram account
// id) with the token: GET {baseURL}/{version}/{id} with Authorization: Bearer. It returns nil
// when Meta answers 200, an *Error when Meta answers anything else, or the transport error
// (which names the URL but never the token). gtc setup --check uses it to see whether a
// channel's credentials work.
func Check(ctx context.Context, hc *http.Client, baseURL, version, id, token string) error {
	if hc == nil {
		hc = http.DefaultClient
	}
	if id == "" {
		return errors.New("graph API: empty object id")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, URL(baseURL, version, id), nil)
	if err != nil {
		return fmt.Errorf("graph API: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return err // names the URL, never a header
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	// Redact before parsing, so that no field and no cut excerpt keeps any part of the token.
	if token != "" {
		body = bytes.ReplaceAll(body, []byte(token), []byte(redactedText))
	}
	return ParseError(resp.StatusCode, body)
}
