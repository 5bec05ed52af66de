package engine

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/engine/msg"
)

// lookupFlow builds the http node of the hostile-input reports: user text in the path, before
// a query that carries a key, and the profile name in a header.
const lookupFlow = `
name: lookup
vars: {note: ""}
nodes:
  - id: lookup
    type: http
    config:
      url: "https://api.example.com/v1/orders/{{input}}?api_key=k3y&note={{ vars.note }}"
      headers: {Authorization: "Bearer s3cret", X-Customer: "{{ contact.name }}"}
      on_error: failed
    next: done
  - id: done
    type: reply
    config: {message: "done"}
  - id: failed
    type: reply
    config: {message: "failed"}
triggers:
  - {type: message, target: lookup}
`

// TestHTTPNodeEscapesByPlace checks that user text cannot leave the place of the URL it is
// interpolated into, nor add a header: the request goes to the same host and path prefix with
// the value escaped, or the node fails without a request.
func TestHTTPNodeEscapesByPlace(t *testing.T) {
	const base = "https://api.example.com/v1/orders/"
	const query = "?api_key=k3y&note=a%26b%3Dc+d"
	cases := []struct {
		name, input, contact string
		want                 string // the request URL; "" for no request
	}{
		{"plain", "1042", "Ann", base + "1042" + query},
		{"path traversal", "../../admin/users/42", "Ann", base + "..%2F..%2Fadmin%2Fusers%2F42" + query},
		{"query and fragment", "1042?status=refunded&admin=1#", "Ann", base + "1042%3Fstatus=refunded&admin=1%23" + query},
		{"user info", "@evil.example.net/x", "Ann", base + "@evil.example.net%2Fx" + query},
		{"escaped dots stay escaped", "%2e%2e", "Ann", base + "%252e%252e" + query},
		{"dot segment", "..", "Ann", ""},
		{"single dot", ".", "Ann", ""},
		{"CR LF in a header", "1042", "Ann\r\nX-Admin: 1", ""},
		{"NUL in a header", "1042", "Ann\x00", ""},
		{"tab in a header", "1042", "Ann\tLee", base + "1042" + query},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := &fakeHTTP{resp: &HTTPResponse{Status: 200}}
			reply := "done"
			if c.want == "" {
				reply = "failed"
			}
			ev := &msg.Event{Kind: msg.KindText, Text: c.input, Contact: msg.Contact{ID: user, Name: c.contact}}
			runCase{name: c.name, flows: []string{lookupFlow}, state: State{Vars: map[string]any{"note": "a&b=c d"}},
				config: func(cfg *Config) { cfg.HTTP = h },
				turns:  []turn{{ev: ev, sends: []msg.Message{textMsg(reply)}}},
			}.run(t)
			switch {
			case c.want == "" && len(h.reqs) > 0:
				t.Fatalf("request sent to %s, want none", h.reqs[0].URL)
			case c.want == "":
			case len(h.reqs) != 1:
				t.Fatalf("%d requests, want 1", len(h.reqs))
			case h.reqs[0].URL != c.want:
				t.Errorf("URL = %s\nwant  %s", h.reqs[0].URL, c.want)
			}
		})
	}
}

// FuzzHTTPNodeURL feeds arbitrary user text through an http node: the request, when there is
// one, always goes to the flow's host and path prefix with the flow's query key, and the value
// comes back whole from the path and the query.
func FuzzHTTPNodeURL(f *testing.F) {
	for _, s := range []string{
		"1042", "../../admin/users/42", "1042?status=refunded&admin=1#", "@evil.example.net/x",
		"..", ".", "%2e%2e", "a b+c", "https://evil.example.net", "\\\\evil", "ü/é", "\x00\r\n", "",
	} {
		f.Add(s)
	}
	const flow = `
name: lookup
nodes:
  - id: lookup
    type: http
    config:
      url: "https://api.example.com/v1/orders/{{input}}?api_key=k3y&q={{input}}#{{input}}"
      on_error: failed
  - id: failed
    type: reply
    config: {message: "failed"}
triggers:
  - {type: message, target: lookup}
`
	e := mustEngine(f, Config{}, flow)
	f.Fuzz(func(t *testing.T, input string) {
		h := &fakeHTTP{resp: &HTTPResponse{Status: 200}}
		ev := &msg.Event{Kind: msg.KindText, Text: input, From: user, Time: t0}
		e.WithHTTP(h).Handle(t.Context(), testConv, &State{}, ev, t0)
		if len(h.reqs) == 0 {
			if input != "." && input != ".." {
				t.Fatalf("input %q: no request", input)
			}
			return
		}
		u, err := url.Parse(h.reqs[0].URL)
		if err != nil {
			t.Fatalf("input %q: request URL %q: %v", input, h.reqs[0].URL, err)
		}
		seg, _ := strings.CutPrefix(u.EscapedPath(), "/v1/orders/")
		got, perr := url.PathUnescape(seg)
		q := u.Query()
		switch {
		case u.Scheme != "https" || u.Host != "api.example.com" || u.User != nil:
			t.Fatalf("input %q: request to %s://%s (user %v)", input, u.Scheme, u.Host, u.User)
		case !strings.HasPrefix(u.EscapedPath(), "/v1/orders/") || strings.Contains(seg, "/"):
			t.Fatalf("input %q: path %q left /v1/orders/", input, u.EscapedPath())
		case perr != nil || got != input:
			t.Fatalf("input %q: path segment %q", input, seg)
		case len(q) != 2 || q.Get("api_key") != "k3y" || q.Get("q") != input:
			t.Fatalf("input %q: query %q", input, u.RawQuery)
		case u.Fragment != input:
			t.Fatalf("input %q: fragment %q", input, u.Fragment)
		}
	})
}

// TestHTTPTraceRedacts: the trace of an http node shows neither the query string's values (an
// api_key) nor user info, even in a client error that repeats the URL; and user text with line
// breaks stays on its trace line.
func TestHTTPTraceRedacts(t *testing.T) {
	const flow = `
name: lookup
nodes:
  - id: lookup
    type: http
    config: {url: "https://api.example.com/v1/orders/{{input}}?api_key=k3y-s3cret&q={{input}}"}
triggers:
  - {type: message, target: lookup}
`
	const input = "1042\nhttp lookup/lookup: forged"
	for _, c := range []struct {
		name string
		http *fakeHTTP
		want string
	}{
		{"answered", &fakeHTTP{resp: &HTTPResponse{Status: 500}},
			`http lookup/lookup: GET https://api.example.com/v1/orders/1042%0Ahttp%20lookup%2Flookup:%20forged?api_key=…&q=…: 500`},
		{"client error", &fakeHTTP{err: &url.Error{Op: "Get", URL: "https://api.example.com/v1/orders/1042?api_key=k3y-s3cret", Err: errors.New("connection refused")}},
			`error lookup/lookup: http GET https://api.example.com/v1/orders/1042%0Ahttp%20lookup%2Flookup:%20forged?api_key=…&q=…: connection refused`},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := mustEngine(t, Config{HTTP: c.http}, flow)
			res := e.Handle(t.Context(), testConv, &State{}, &msg.Event{Kind: msg.KindText, Text: input, From: user, Time: t0}, t0)
			lines := traceLines(res)
			if strings.Contains(lines, "k3y-s3cret") || !strings.Contains(lines, c.want) {
				t.Errorf("trace:\n%s\nwant a line %s and no key", lines, c.want)
			}
			for _, te := range res.Trace {
				if strings.Contains(te.String(), "\n") {
					t.Errorf("trace entry %q spans lines", te.String())
				}
			}
		})
	}
}

// TestTraceEntryOneLine: user text in a trace detail cannot start a line of its own.
func TestTraceEntryOneLine(t *testing.T) {
	e := TraceEntry{Kind: TraceResume, Node: "ask/name", Detail: "name = \"Ann\r\nsend ask/x: text\u2028\x00\""}
	if got, want := e.String(), `resume ask/name: name = "Ann\r\nsend ask/x: text\u2028\x00"`; got != want {
		t.Errorf("String() = %s, want %s", got, want)
	}
}
