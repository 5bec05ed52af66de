package loadtest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestMetric sums a metric's samples whose labels match, as the soak reads gtc serve's counters.
func TestMetric(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `# HELP flowgate_sends_total x
flowgate_sends_total{channel="whatsapp",code="",result="ok"} 120
flowgate_sends_total{channel="whatsapp",code="131000",result="failed"} 2
flowgate_sends_total{channel="whatsapp",code="130429",result="failed"} 3
flowgate_sends_total_other 9
flowgate_possible_duplicates_total 4
`)
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"flowgate_sends_total", []string{`result="failed"`}, 5},
		{"flowgate_sends_total", nil, 125},
		{"flowgate_possible_duplicates_total", nil, 4},
		{"flowgate_absent", nil, 0},
	} {
		if got := metric(addr, c.name, c.labels...); got != c.want {
			t.Errorf("%s %v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if metric("127.0.0.1:1", "flowgate_possible_duplicates_total") != 0 {
		t.Error("an unreachable server's metric is not 0")
	}
}
