package meta

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/engine/msg"
)

const testToken = "EAAGm0PX4ZCpsBAKZBtestTOKENdoNotLog1234567890"

// Meta's error answers, as the WhatsApp Cloud API and the Messenger Send API give them.
const (
	err131047Body = `{"error":{"message":"(#131047) Re-engagement message","type":"OAuthException","code":131047,"error_data":{"messaging_product":"whatsapp","details":"Message failed to send because more than 24 hours have passed since the customer last replied to this number."},"fbtrace_id":"ReEng4g3"}}`
	err190Body    = `{"error":{"message":"Error validating access token: Session has expired on Tuesday, 01-Jul-25 10:00:00 PDT. The token ` + testToken + ` is invalid.","type":"OAuthException","code":190,"error_subcode":463,"fbtrace_id":"T0k3nX"}}`
	htmlBody      = `<html><body><h1>502 Bad Gateway</h1></body></html>`
	// Messenger's refusal outside the standard window, with and without the numbers.
	errWindowBody     = `{"error":{"message":"(#10) This message is sent outside of allowed window. Learn more about the new policy here: https://developers.facebook.com/docs/messenger-platform/policy-overview","type":"OAuthException","code":10,"error_subcode":2018278,"fbtrace_id":"Wnd0w"}}`
	errWindowTextBody = `{"error":{"message":"This message is sent outside of allowed window.","type":"OAuthException","code":100,"fbtrace_id":"Wnd1"}}`
	errNoUserBody     = `{"error":{"message":"(#100) No matching user found","type":"OAuthException","code":100,"error_subcode":2018001,"fbtrace_id":"NoUsr"}}`
	err551Body        = `{"error":{"message":"(#551) This person isn't available right now.","type":"OAuthException","code":551,"error_subcode":1545041,"fbtrace_id":"Unav"}}`
	err613Body        = `{"error":{"message":"(#613) Calls to this api have exceeded the rate limit.","type":"OAuthException","code":613,"fbtrace_id":"Rate"}}`
)

func TestClassify(t *testing.T) {
	tests := []struct {
		status, code, subcode int
		want                  Class
	}{
		{429, 0, 0, ClassThrottle}, {429, 100, 0, ClassThrottle},
		{400, 4, 0, ClassThrottle}, {400, 80007, 0, ClassThrottle}, {400, 130429, 0, ClassThrottle},
		{400, 131048, 0, ClassThrottle}, {400, 131056, 0, ClassThrottle}, {400, 133016, 0, ClassThrottle},
		{400, 613, 0, ClassThrottle}, {400, 17, 0, ClassThrottle}, {400, 32, 0, ClassThrottle},
		{400, 80006, 0, ClassThrottle}, {400, 80002, 0, ClassThrottle},
		{500, 1, 0, ClassTransient}, {400, 1, 0, ClassTransient}, {503, 2, 0, ClassTransient}, {500, 131000, 0, ClassTransient},
		{500, 131016, 0, ClassTransient}, {503, 133004, 0, ClassTransient}, {500, 131057, 0, ClassTransient},
		{400, 131053, 0, ClassTransient}, {502, 0, 0, ClassTransient}, {500, 999999, 0, ClassTransient},
		{400, 1200, 0, ClassTransient},
		{400, 100, 0, ClassPermanent}, {400, 100, 2018001, ClassPermanent}, {400, 131008, 0, ClassPermanent},
		{400, 131009, 0, ClassPermanent}, {400, 131026, 0, ClassPermanent}, {400, 131047, 0, ClassPermanent},
		{400, 132000, 0, ClassPermanent}, {404, 132001, 0, ClassPermanent}, {400, 131021, 0, ClassPermanent},
		{400, 131050, 0, ClassPermanent}, {400, 131051, 0, ClassPermanent}, {400, 135000, 0, ClassPermanent},
		{400, 999999, 0, ClassPermanent}, {400, 551, 0, ClassPermanent}, {400, 230, 0, ClassPermanent},
		{400, 10, 2018278, ClassPermanent},
		{401, 0, 0, ClassAuth}, {401, 190, 0, ClassAuth}, {400, 190, 463, ClassAuth}, {500, 3, 0, ClassAuth},
		{403, 10, 0, ClassAuth}, {403, 200, 0, ClassAuth}, {403, 294, 0, ClassAuth}, {403, 131005, 0, ClassAuth},
		{400, 133010, 0, ClassAuth},
		{403, 368, 0, ClassPolicy}, {403, 131031, 0, ClassPolicy}, {403, 130497, 0, ClassPolicy}, {400, 33, 0, ClassPolicy},
		{400, 131042, 0, ClassPolicy}, {400, 10904, 0, ClassPolicy},
	}
	for _, tc := range tests {
		if got := Classify(tc.status, tc.code, tc.subcode); got != tc.want {
			t.Errorf("Classify(%d, %d, %d) = %s, want %s", tc.status, tc.code, tc.subcode, got, tc.want)
		}
	}
}

// TestGraphErrors reads Meta's answers as the clients see them: the class that decides the
// retry, and whether the engine's window policy takes over.
func TestGraphErrors(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		class  Class
		window bool
	}{
		{"whatsapp re-engagement", 400, err131047Body, ClassPermanent, true},
		{"messenger outside window", 400, errWindowBody, ClassPermanent, true},
		{"outside window by its text only", 400, errWindowTextBody, ClassPermanent, true},
		{"no matching user", 400, errNoUserBody, ClassPermanent, false},
		{"person unavailable", 400, err551Body, ClassPermanent, false},
		{"send api rate limit", 400, err613Body, ClassThrottle, false},
		{"expired token", 401, err190Body, ClassAuth, false},
		{"proxy page", 502, htmlBody, ClassTransient, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := ParseError(tc.status, []byte(tc.body))
			if e.Class != tc.class {
				t.Errorf("class = %s, want %s", e.Class, tc.class)
			}
			if got := errors.Is(e, msg.ErrWindowClosed); got != tc.window {
				t.Errorf("errors.Is(ErrWindowClosed) = %v, want %v", got, tc.window)
			}
			if e.Retryable() != (tc.class == ClassThrottle || tc.class == ClassTransient) {
				t.Errorf("Retryable = %v for class %s", e.Retryable(), e.Class)
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	e := parseError(400, http.Header{}, []byte(err131047Body), time.Now())
	got := e.Error()
	for _, want := range []string{"graph error 131047", "(Re-engagement message)", "more than 24 hours", "class permanent", "http 400", "trace ReEng4g3"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
	html := parseError(502, nil, []byte(htmlBody), time.Now())
	if html.Class != ClassTransient || !strings.Contains(html.Error(), "graph http 502") || !strings.Contains(html.Error(), "502 Bad Gateway") {
		t.Errorf("html error = %v", html)
	}
	// error_data as a plain string (older Graph errors) and error_user_title/msg.
	legacy := parseError(400, nil, []byte(`{"error":{"message":"(#10) Permission denied","type":"OAuthException","code":10,"error_data":"permission missing","error_user_title":"Not allowed","fbtrace_id":"x"}}`), time.Now())
	if legacy.Details != "permission missing" || legacy.Title != "Not allowed" || legacy.Class != ClassAuth {
		t.Errorf("legacy = %+v", legacy)
	}
	if d := parseRetryAfter("Wed, 21 Oct 2015 07:28:10 GMT", time.Date(2015, 10, 21, 7, 28, 0, 0, time.UTC)); d != 10*time.Second {
		t.Errorf("HTTP-date Retry-After = %v", d)
	}
	if d := parseError(429, http.Header{"Retry-After": {"7"}}, []byte(err613Body), time.Now()).RetryAfter; d != 7*time.Second {
		t.Errorf("Retry-After seconds = %v", d)
	}
	// The token never survives redaction, wherever Meta echoed it.
	tok := parseError(401, nil, []byte(err190Body), time.Now())
	tok.Err = errors.New("dial: token " + testToken)
	tok.redact(testToken)
	if strings.Contains(tok.Error(), testToken) {
		t.Errorf("token in %q", tok.Error())
	}
}

// TestRetryAfterHuge: a Retry-After too large for a time.Duration still means "not soon" (the
// client then gives up within its retry budget) rather than wrapping around to a short wait.
func TestRetryAfterHuge(t *testing.T) {
	for _, v := range []string{"99999999999", "9223372036854775807"} {
		if d := parseRetryAfter(v, time.Now()); d < 24*time.Hour {
			t.Errorf("Retry-After %s = %v", v, d)
		}
	}
}
