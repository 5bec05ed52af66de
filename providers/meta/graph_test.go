package meta

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const secretToken = "EAAG-super-secret-token"

func TestCheck(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		want    *Error // nil: success
		wantMsg string
	}{
		{name: "ok", status: 200, body: `{"id":"123","display_phone_number":"+1 555"}`},
		{
			name:   "invalid token",
			status: 401,
			body:   `{"error":{"message":"Invalid OAuth access token - Cannot parse access token","type":"OAuthException","code":190,"error_subcode":463,"fbtrace_id":"AbC123"}}`,
			want: &Error{HTTPStatus: 401, Code: 190, Subcode: 463, Type: "OAuthException",
				Message: "Invalid OAuth access token - Cannot parse access token", Title: "Invalid OAuth access token - Cannot parse access token", TraceID: "AbC123", Class: ClassAuth},
			wantMsg: "graph error 190/463 (Invalid OAuth access token - Cannot parse access token) [class auth, http 401, OAuthException, trace AbC123]",
		},
		{
			name:    "unknown object",
			status:  400,
			body:    `{"error":{"message":"Unsupported get request.","type":"GraphMethodException","code":100,"fbtrace_id":"X"}}`,
			want:    &Error{HTTPStatus: 400, Code: 100, Type: "GraphMethodException", Message: "Unsupported get request.", Title: "Unsupported get request.", TraceID: "X", Class: ClassPermanent},
			wantMsg: "graph error 100 (Unsupported get request.) [class permanent, http 400, GraphMethodException, trace X]",
		},
		{
			name:    "not an envelope",
			status:  502,
			body:    "<html>bad gateway</html>",
			want:    &Error{HTTPStatus: 502, Message: "<html>bad gateway</html>", Class: ClassTransient},
			wantMsg: "graph http 502: <html>bad gateway</html> [class transient]",
		},
		{
			name:    "empty body",
			status:  500,
			want:    &Error{HTTPStatus: 500, Message: "Internal Server Error", Class: ClassTransient},
			wantMsg: "graph http 500: Internal Server Error [class transient]",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gotPath, gotAuth string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				gotPath, gotAuth = r.URL.Path, r.Header.Get("Authorization")
				if r.Method != http.MethodGet {
					t.Errorf("method = %s, want GET", r.Method)
				}
				w.WriteHeader(tt.status)
				w.Write([]byte(tt.body))
			}))
			defer srv.Close()

			err := Check(context.Background(), srv.Client(), srv.URL+"/", "v21.0", "123456789012345", secretToken)
			if gotPath != "/v21.0/123456789012345" {
				t.Errorf("path = %q, want /v21.0/123456789012345", gotPath)
			}
			if gotAuth != "Bearer "+secretToken {
				t.Errorf("Authorization = %q", gotAuth)
			}
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			var ge *Error
			if !errors.As(err, &ge) {
				t.Fatalf("Check = %v (%T), want *Error", err, err)
			}
			if *ge != *tt.want {
				t.Errorf("error = %+v, want %+v", *ge, *tt.want)
			}
			if ge.Error() != tt.wantMsg {
				t.Errorf("Error() = %q\nwant      %q", ge.Error(), tt.wantMsg)
			}
			if strings.Contains(ge.Error(), secretToken) {
				t.Errorf("Error() contains the token: %q", ge.Error())
			}
		})
	}
}

func TestCheckTransportErrorHidesToken(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close() // nothing listens any more
	err := Check(context.Background(), nil, base, "v21.0", "42", secretToken)
	if err == nil {
		t.Fatal("Check against a closed server succeeded")
	}
	if strings.Contains(err.Error(), secretToken) {
		t.Errorf("error contains the token: %v", err)
	}
}

func TestCheckEmptyID(t *testing.T) {
	if err := Check(context.Background(), nil, "https://graph.facebook.com", "v21.0", "", "t"); err == nil {
		t.Fatal("Check with an empty id succeeded")
	}
}

func TestURL(t *testing.T) {
	got := URL("https://graph.facebook.com/", "v21.0", "123", "messages")
	if want := "https://graph.facebook.com/v21.0/123/messages"; got != want {
		t.Errorf("URL = %q, want %q", got, want)
	}
	if got := URL("http://127.0.0.1:9/proxy", "v21.0", "a/b"); got != "http://127.0.0.1:9/proxy/v21.0/a%2Fb" {
		t.Errorf("URL = %q", got)
	}
}

// TestCheckRedactsEchoedToken: Meta echoes a malformed token in its error message ("Malformed
// access token EAAG..."), and a proxy's error page may echo the Authorization header. Neither
// may carry the token into the error, which gtc setup --check prints.
func TestCheckRedactsEchoedToken(t *testing.T) {
	long := strings.Repeat("x", 185) + secretToken // the token straddles the excerpt's cut
	for name, tc := range map[string]struct {
		status int
		body   string
	}{
		"graph message": {400, `{"error":{"message":"Malformed access token ` + secretToken + `","type":"OAuthException","code":190,"fbtrace_id":"T"}}`},
		"error type":    {400, `{"error":{"message":"bad","type":"` + secretToken + `","code":190}}`},
		"proxy page":    {502, "<html>Authorization: Bearer " + secretToken + "</html>"},
		"cut excerpt":   {502, long},
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			err := Check(context.Background(), srv.Client(), srv.URL, "v21.0", "42", secretToken)
			if err == nil {
				t.Fatal("Check succeeded")
			}
			var ge *Error
			if !errors.As(err, &ge) {
				t.Fatalf("%v is not an *Error", err)
			}
			for _, s := range []string{err.Error(), ge.Message, ge.Type, ge.TraceID} {
				if strings.Contains(s, secretToken[:12]) {
					t.Errorf("the token leaks: %q", s)
				}
			}
			if !strings.Contains(err.Error(), "[redacted]") {
				t.Errorf("error %q does not say what was removed", err)
			}
		})
	}
}

// TestParseErrorLenient: string codes, error_data as a string or an object, user titles and
// messages, and "(#code)" prefixes all land in their fields; a body that is not the envelope
// becomes a folded excerpt.
func TestParseErrorLenient(t *testing.T) {
	cases := []struct {
		body string
		want Error
	}{
		{`{"error":{"message":"(#131047) Re-engagement message","code":"131047","error_data":{"messaging_product":"whatsapp","details":"24 hours have passed"}}}`,
			Error{HTTPStatus: 400, Code: 131047, Message: "(#131047) Re-engagement message", Title: "Re-engagement message", Details: "24 hours have passed", Class: ClassPermanent}},
		{`{"error":{"message":"(#10) Permission denied","code":10,"error_data":"permission missing","error_user_title":"Not allowed","fbtrace_id":"x"}}`,
			Error{HTTPStatus: 400, Code: 10, Message: "(#10) Permission denied", Title: "Not allowed", Details: "permission missing", TraceID: "x", Class: ClassAuth}},
		{`{"error":{"message":"Bad","code":1,"error_user_msg":"Try later","error_data":[1]}}`,
			Error{HTTPStatus: 400, Code: 1, Message: "Bad", Title: "Bad", Details: "Try later", Class: ClassTransient}},
		{"<html>\n  <body>Bad   gateway</body>\n</html>", Error{HTTPStatus: 400, Message: "<html> <body>Bad gateway</body> </html>", Class: ClassPermanent}},
		{"", Error{HTTPStatus: 400, Message: "Bad Request", Class: ClassPermanent}},
	}
	for _, c := range cases {
		if got := ParseError(400, []byte(c.body)); *got != c.want {
			t.Errorf("ParseError(%q)\n got %+v\nwant %+v", c.body, *got, c.want)
		}
	}
}
