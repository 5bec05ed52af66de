package loadtest

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/internal/testbin"
)

// gtcBinary is the gtc the load test runs gtc serve and the floor from, as gtc loadtest does
// from itself.
func gtcBinary(t *testing.T) string { return testbin.Build(t, "../cmd/gtc") }

// TestSoakShort is make soak in small: under steady load, Redis is killed and restarted, gtc
// serve is killed and restarted, and the Graph API throttles and fails; every accepted
// webhook is answered, nothing is reordered, and duplicates stay within the crash window's
// count.
func TestSoakShort(t *testing.T) {
	var log bytes.Buffer
	rep, err := Soak(context.Background(), SoakConfig{GTC: gtcBinary(t), Duration: 20 * time.Second, Rate: 30, Conversations: 100, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep.WriteMarkdown(&out)
	t.Logf("\n%s%s", log.String(), out.String())
	if len(rep.Problems) > 0 {
		t.Errorf("soak problems: %s", strings.Join(rep.Problems, "; "))
	}
	if len(rep.Faults) != 3 {
		t.Errorf("%d faults reported, want 3", len(rep.Faults))
	}
	if rep.Codes["503"]+rep.Codes["error"] == 0 {
		t.Error("no webhook failed while Redis and gtc serve were down: the faults did not happen")
	}
	if g := rep.Graph; g.Throttled+g.Failed+g.TimedOut == 0 {
		t.Error("the Graph API fault window answered nothing but 200")
	}
	if c := rep.Counts; c.Sent < 500 || c.Replied != c.Sent {
		t.Errorf("counts %+v", c)
	}
}

// TestScenariosShort runs two scenarios, shortened, against the floor and gtc serve, and
// checks that the report holds their figures.
func TestScenariosShort(t *testing.T) {
	var log bytes.Buffer
	rep, err := RunLocal(context.Background(), LocalConfig{GTC: gtcBinary(t), Scale: 0.2, Only: []string{"ack-2000", "round-trips"}, Log: &log})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	var md bytes.Buffer
	rep.WriteMarkdown(&md)
	t.Logf("\n%s%s", log.String(), md.String())
	if len(rep.Outcomes) != 2 {
		t.Fatalf("%d outcomes", len(rep.Outcomes))
	}
	for _, o := range rep.Outcomes {
		for _, r := range []*Result{o.Serve, o.Floor} {
			c := r.Counts
			if !r.Drained || c.Lost+c.Dup+c.Reordered+c.Stray+c.Pending != 0 || c.Replied == 0 {
				t.Errorf("%s, %s: drained %v, counts %+v", o.Scenario.Name, r.Target, r.Drained, c)
			}
			if r.IngestRPS <= 0 || r.AckP99 <= 0 || r.E2EP99 <= 0 || r.RSS <= 0 || r.Commands <= 0 {
				t.Errorf("%s, %s: a figure is missing: %+v", o.Scenario.Name, r.Target, r)
			}
		}
	}
	if trips := rep.Outcomes[1]; trips.Serve.RoundTrips < 1 || trips.Floor.RoundTrips < 1 {
		t.Errorf("round trips per event: gtc serve %.2f, floor %.2f; each event takes at least one", trips.Serve.RoundTrips, trips.Floor.RoundTrips)
	}
	for _, want := range []string{"| ack-2000: 2000 webhooks/s open loop", "ack p50 / p99 / max", "Redis round trips per event", "| all runs | lost / duplicated / reordered replies (gtc serve) | 0 / 0 / 0 |"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}
