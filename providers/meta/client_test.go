package meta

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/flowgate/flowgate/internal/testclock"
)

// TestRetryAfterDateFromClientClock: a Retry-After given as an HTTP date counts from the
// client's clock (flowctl test's virtual one), not the wall clock.
func TestRetryAfterDateFromClientClock(t *testing.T) {
	clock := testclock.New()
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if calls == 1 {
			w.Header().Set("Retry-After", clock.Now().Add(3*time.Second).UTC().Format(http.TimeFormat))
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"error":{"message":"(#613) Calls to this api have exceeded the rate limit.","code":613}}`))
			return
		}
		w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	c := NewClient(Account{Channel: "test", ID: "1"}, ClientConfig{
		AccessToken: "t", BaseURL: srv.URL, HTTPClient: srv.Client(), Clock: clock,
		Jitter: func(time.Duration) time.Duration { return 0 },
	})
	if _, err := c.Post(context.Background(), c.URL("1", "messages"), Request{Type: "text", To: "u", Body: []byte(`{}`)}, false); err != nil {
		t.Fatal(err)
	}
	if got := clock.Sleeps(); !reflect.DeepEqual(got, []time.Duration{3 * time.Second}) {
		t.Errorf("waits %v, want [3s]", got)
	}
}
