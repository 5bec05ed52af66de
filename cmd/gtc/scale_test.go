package main

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowgate/flowgate/internal/redistest"
	"github.com/flowgate/flowgate/loadtest"
)

// The load tests of more than one process and of Redis Cluster: the real gtc binary under a few
// thousand events of many conversations, each event answered once and in order.

// postEchoes posts per "seq i" messages to each of users conversations (named by format), in
// webhooks of batch messages, each user's webhooks in order and the users at once, spread
// over addrs in turn.
func postEchoes(t *testing.T, addrs []string, format string, users, per, batch int) {
	t.Helper()
	var wg sync.WaitGroup
	for u := range users {
		wg.Go(func() {
			user := fmt.Sprintf(format, u)
			for i := 0; i < per; i += batch {
				var evs []string
				for j := i; j < min(i+batch, per); j++ {
					evs = append(evs, fmt.Sprintf(`{"from":%q,"id":"wamid.%s.%d","timestamp":"%d","type":"text","text":{"body":"seq %d"}}`, user, user, j, time.Now().Unix(), j))
				}
				body := []byte(fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"987654321098765","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550100","phone_number_id":%q},"contacts":[{"profile":{"name":"U"},"wa_id":%q}],"messages":[%s]}}]}]}`, e2ePhone, user, strings.Join(evs, ",")))
				mustPost(t, addrs[(u+i/batch)%len(addrs)], body)
			}
		})
	}
	wg.Wait()
}

// processed is how many events a gtc serve process ran to the end.
func processed(t *testing.T, p *serveProc) float64 {
	return metricValue(t, p.addr, `flowgate_events_total{kind="event",result="ok"}`)
}

// TestServeCluster runs one gtc serve on a three-master Redis Cluster under 3,000 events of
// 200 conversations.
func TestServeCluster(t *testing.T) {
	addrs := redistest.ClusterAddrs(t)
	_, prefix := redistest.ClusterClient(t)
	g := newFakeGraph(t)
	dir := newBundle(t, g.srv.URL, map[string]string{"echo.yaml": loadtest.EchoFlow})
	p := startServeOn(t, dir, []string{"--redis-cluster", strings.Join(addrs, ",")}, prefix, "--rate", "100000")
	const users, per, batch = 200, 15, 5
	postEchoes(t, []string{p.addr}, "1555200%04d", users, per, batch)
	checkEchoes(t, g, "1555200%04d", users, per)
	if n := processed(t, p); n != users*per {
		t.Errorf("%v events processed, want %d", n, users*per)
	}
	if code := p.stop(); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
}

// TestServeSharedLoad runs two, then three gtc serve processes on one Redis under 1,200 events
// of 120 conversations posted to all of them: each event is answered once and in order, every
// process does part of the work, and together they send to the Graph API no faster than
// --rate allows one phone number.
func TestServeSharedLoad(t *testing.T) {
	const rate = 200 // messages/s; the burst is one second of it
	for _, n := range []int{2, 3} {
		t.Run(fmt.Sprintf("processes=%d", n), func(t *testing.T) {
			url := redistest.URL(t)
			_, prefix := redistest.Client(t)
			g := newFakeGraph(t)
			dir := newBundle(t, g.srv.URL, map[string]string{"echo.yaml": loadtest.EchoFlow})
			var procs []*serveProc
			var addrs []string
			for range n {
				p := startServe(t, dir, url, prefix, "--rate", fmt.Sprint(rate))
				procs, addrs = append(procs, p), append(addrs, p.addr)
			}
			const users, per, batch = 120, 10, 5
			format := fmt.Sprintf("1555%d00%%04d", n)
			postEchoes(t, addrs, format, users, per, batch)
			checkEchoes(t, g, format, users, per)

			var shares []float64
			for _, p := range procs {
				shares = append(shares, processed(t, p))
			}
			t.Logf("events processed by each process: %v", shares)
			for i, got := range shares {
				if got < users*per/(4*float64(n)) {
					t.Errorf("process %d processed %v of %d events: the work was not shared", i, got, users*per)
				}
			}
			checkRate(t, g.arrivals(), rate)
		})
	}
}

// checkRate checks that the requests that arrived at the fake Graph API (one phone number)
// kept to the limiter's GCRA schedule: over any window of w, at most rate·(w+slack) + burst,
// where the burst is rate (one second's worth, the default) and slack covers how much later
// than its booking a request may arrive (the process's scheduling and the local network on a
// busy machine).
func checkRate(t *testing.T, at []time.Time, rate float64) {
	t.Helper()
	const w, slack = 2 * time.Second, 150 * time.Millisecond
	limit := int(rate*(w+slack).Seconds() + rate)
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
	peak, j := 0, 0
	for i := range at {
		for at[i].Sub(at[j]) >= w {
			j++
		}
		peak = max(peak, i-j+1)
	}
	span := at[len(at)-1].Sub(at[0])
	t.Logf("%d requests in %v (%.0f/s); at most %d in any %v (allowed %d at %v/s with a burst of %v)",
		len(at), span.Round(time.Millisecond), float64(len(at))/span.Seconds(), peak, w, limit, rate, rate)
	if peak > limit {
		t.Errorf("%d requests in %v reached the Graph API: over the limit of %d (--rate %v shared by every process)", peak, w, limit, rate)
	}
}
