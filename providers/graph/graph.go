// Package graph holds what every call to Meta's Graph API shares, whichever channel makes it:
// the versioned URL, bearer authentication and Meta's error envelope. The channel packages build
// their URLs with URL (providers/whatsapp does; its client keeps its own, richer error type with
// retry classes), and gtc setup --check uses Check to see whether a channel's credentials work.
package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// maxErrorBody bounds how much of an error response is read.
const maxErrorBody = 64 << 10

// Error is an error answered by the Graph API, parsed from Meta's envelope
//
//	{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}
//
// When the body is not that envelope, Code is 0 and Message holds a short excerpt of the body.
type Error struct {
	HTTPStatus int
	Code       int
	Subcode    int
	Type       string
	Message    string
	TraceID    string
}

// Error renders the error as Meta reported it. It never contains the access token: Meta may echo
// a malformed token in its message (and a proxy the Authorization header in its error page), so
// Check removes the token from the response before it is parsed.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "graph API: HTTP %d", e.HTTPStatus)
	if e.Code != 0 {
		fmt.Fprintf(&b, ", code %d", e.Code)
		if e.Subcode != 0 {
			fmt.Fprintf(&b, " (subcode %d)", e.Subcode)
		}
	}
	if e.Type != "" {
		fmt.Fprintf(&b, ", %s", e.Type)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.TraceID != "" {
		fmt.Fprintf(&b, " (fbtrace_id %s)", e.TraceID)
	}
	return b.String()
}

// envelope is Meta's error body.
type envelope struct {
	Error *struct {
		Message   string `json:"message"`
		Type      string `json:"type"`
		Code      int    `json:"code"`
		Subcode   int    `json:"error_subcode"`
		FBTraceID string `json:"fbtrace_id"`
	} `json:"error"`
}

// ParseError reads a non-2xx response's body into an *Error.
func ParseError(status int, body []byte) *Error {
	e := &Error{HTTPStatus: status}
	var env envelope
	if err := json.Unmarshal(body, &env); err == nil && env.Error != nil {
		e.Code = env.Error.Code
		e.Subcode = env.Error.Subcode
		e.Type = env.Error.Type
		e.Message = env.Error.Message
		e.TraceID = env.Error.FBTraceID
		return e
	}
	excerpt := strings.TrimSpace(string(body))
	if len(excerpt) > 200 {
		excerpt = strings.ToValidUTF8(excerpt[:200], "") + "..."
	}
	if excerpt == "" {
		excerpt = http.StatusText(status)
	}
	e.Message = excerpt
	return e
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
// (which names the URL but never the token).
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
		body = bytes.ReplaceAll(body, []byte(token), []byte(redacted))
	}
	return ParseError(resp.StatusCode, body)
}

// redacted stands in for the token wherever a response echoed it.
const redacted = "[redacted]"
