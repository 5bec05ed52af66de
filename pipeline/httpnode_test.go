package pipeline_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowgate/flowgate/engine"
	"github.com/flowgate/flowgate/pipeline"
)

// TestHTTPClient: the http node's client sends the request as the node built it and stores
// what came back: JSON decoded, other bodies as text, no body as nil, any status.
func TestHTTPClient(t *testing.T) {
	type seen struct {
		method, path, contentType, accept, auth, body string
	}
	var mu sync.Mutex
	var got seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = seen{r.Method, r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get("Accept"), r.Header.Get("Authorization"), string(b)}
		mu.Unlock()
		switch r.URL.Path {
		case "/json":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"state": "shipped", "items": [1, "two"], "late": false}`)
		case "/text":
			io.WriteString(w, "not json")
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/error":
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `{"error": "down"}`)
		case "/huge":
			io.WriteString(w, `"`+strings.Repeat("a", 2<<20)+`"`)
		case "/slow":
			<-r.Context().Done()
		}
	}))
	defer srv.Close()
	for _, tc := range []struct {
		name   string
		req    engine.HTTPRequest
		status int
		body   any
		seen   seen
	}{
		{name: "GET JSON", req: engine.HTTPRequest{Method: "GET", URL: srv.URL + "/json", Headers: map[string]string{"Authorization": "Bearer k"}},
			status: 200, body: map[string]any{"state": "shipped", "items": []any{1.0, "two"}, "late": false},
			seen: seen{method: "GET", path: "/json", accept: "application/json", auth: "Bearer k"}},
		{name: "POST a JSON body", req: engine.HTTPRequest{Method: "POST", URL: srv.URL + "/json", Body: []byte(`{"order":"42"}`)},
			status: 200, body: map[string]any{"state": "shipped", "items": []any{1.0, "two"}, "late": false},
			seen: seen{method: "POST", path: "/json", contentType: "application/json", accept: "application/json", body: `{"order":"42"}`}},
		{name: "a body that is not JSON is text", req: engine.HTTPRequest{Method: "GET", URL: srv.URL + "/text"},
			status: 200, body: "not json", seen: seen{method: "GET", path: "/text", accept: "application/json"}},
		{name: "no body is nil", req: engine.HTTPRequest{Method: "DELETE", URL: srv.URL + "/empty"},
			status: 204, body: nil, seen: seen{method: "DELETE", path: "/empty", accept: "application/json"}},
		{name: "an error status is an answer", req: engine.HTTPRequest{Method: "GET", URL: srv.URL + "/error"},
			status: 500, body: map[string]any{"error": "down"}, seen: seen{method: "GET", path: "/error", accept: "application/json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := pipeline.HTTPClient{}.Do(context.Background(), &tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != tc.status || !reflect.DeepEqual(resp.Body, tc.body) {
				t.Errorf("got %d %#v, want %d %#v", resp.Status, resp.Body, tc.status, tc.body)
			}
			mu.Lock()
			defer mu.Unlock()
			if got != tc.seen {
				t.Errorf("the service saw %+v, want %+v", got, tc.seen)
			}
		})
	}

	t.Run("a body past 1 MiB is cut, and no longer JSON", func(t *testing.T) {
		resp, err := pipeline.HTTPClient{}.Do(context.Background(), &engine.HTTPRequest{Method: "GET", URL: srv.URL + "/huge"})
		if err != nil {
			t.Fatal(err)
		}
		if s, ok := resp.Body.(string); !ok || len(s) != 1<<20 {
			t.Errorf("body %T of %d bytes, want the first 1 MiB as text", resp.Body, len(resp.Body.(string)))
		}
	})
	t.Run("the node's timeout ends the call", func(t *testing.T) {
		_, err := pipeline.HTTPClient{}.Do(context.Background(), &engine.HTTPRequest{Method: "GET", URL: srv.URL + "/slow", Timeout: 20 * time.Millisecond})
		if err == nil || !strings.Contains(err.Error(), "deadline exceeded") {
			t.Errorf("err = %v, want the deadline", err)
		}
	})
	t.Run("a URL that cannot be requested", func(t *testing.T) {
		_, err := pipeline.HTTPClient{}.Do(context.Background(), &engine.HTTPRequest{Method: "GET", URL: "http://[::1"})
		if err == nil || !strings.Contains(err.Error(), "http node request") {
			t.Errorf("err = %v", err)
		}
	})
}
