package loadtest

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flowgate/flowgate/internal/redistest"
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

// TestScenariosShort runs four scenarios, shortened: two against the floor and gtc serve, and
// the Messenger and Instagram ones against gtc serve alone; it checks that every message was
// answered once and in order, and that the report holds the figures.
func TestScenariosShort(t *testing.T) {
	var log bytes.Buffer
	rep, err := RunLocal(context.Background(), LocalConfig{GTC: gtcBinary(t), Scale: 0.2, Only: []string{"ack-2000", "round-trips", "messenger", "instagram"}, Log: &log})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	var md bytes.Buffer
	rep.WriteMarkdown(&md)
	t.Logf("\n%s%s", log.String(), md.String())
	if len(rep.Outcomes) != 4 {
		t.Fatalf("%d outcomes", len(rep.Outcomes))
	}
	byName := map[string]Outcome{}
	for _, o := range rep.Outcomes {
		byName[o.Scenario.Name] = o
		results := []*Result{o.Serve, o.Floor}
		if o.Scenario.Channel != "" {
			if o.Floor != nil {
				t.Errorf("%s: the floor ran, but it speaks WhatsApp only", o.Scenario.Name)
			}
			results = results[:1]
		}
		for _, r := range results {
			c := r.Counts
			if !r.Drained || c.Lost+c.Dup+c.Reordered+c.Stray+c.Pending != 0 || c.Replied == 0 {
				t.Errorf("%s, %s: drained %v, counts %+v", o.Scenario.Name, r.Target, r.Drained, c)
			}
			if r.IngestRPS <= 0 || r.AckP99 <= 0 || r.E2EP99 <= 0 || r.RSS <= 0 || r.Commands <= 0 {
				t.Errorf("%s, %s: a figure is missing: %+v", o.Scenario.Name, r.Target, r)
			}
		}
	}
	if trips := byName["round-trips"]; trips.Serve.RoundTrips < 1 || trips.Floor.RoundTrips < 1 {
		t.Errorf("round trips per event: gtc serve %.2f, floor %.2f; each event takes at least one", trips.Serve.RoundTrips, trips.Floor.RoundTrips)
	}
	for _, want := range []string{"| ack-2000: 2000 webhooks/s open loop", "| messenger: 1000 messenger webhooks/s open loop", "| instagram: 1000 instagram webhooks/s open loop", "ack p50 / p99 / max", "Redis round trips per event", "| all runs | lost / duplicated / reordered replies (gtc serve) | 0 / 0 / 0 |"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// TestRunTargetAgainstTheFloor points the generator at a deployment it did not start (here
// the floor, in process, on a real Redis) with the fake Graph API it serves: every message of
// the batched bodies is answered once.
func TestRunTargetAgainstTheFloor(t *testing.T) {
	redisURL := redistest.URL(t)
	prefix := "lt-floor-" + randomHex(4) + ":"
	t.Cleanup(func() {
		opts, _ := redis.ParseURL(redisURL)
		c := redis.NewClient(opts)
		defer c.Close()
		redistest.Clean(context.Background(), c, prefix)
	})
	floorPort, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	graphPort, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	floorAddr, graphAddr := fmt.Sprintf("127.0.0.1:%d", floorPort), fmt.Sprintf("127.0.0.1:%d", graphPort)
	floorDone := make(chan error, 1)
	go func() {
		floorDone <- RunFloor(ctx, FloorConfig{Addr: floorAddr, RedisURL: redisURL, Prefix: prefix, AppSecret: "s3cret",
			GraphURL: "http://" + graphAddr, Token: "tok", Phone: "555", Workers: 4})
	}()
	waitFor(t, func() bool { return probe(floorAddr) })
	var log bytes.Buffer
	res, err := RunTarget(ctx, TargetConfig{
		Gen: GenConfig{URL: "http://" + floorAddr + "/", AppSecret: "s3cret", Account: "555",
			Conversations: 20, Rate: 100, Duration: time.Second, Batch: 2},
		GraphAddr: graphAddr, Graph: GraphConfig{Latency: -1, Token: "tok"}, Drain: 10 * time.Second, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Counts
	if !res.Drained || c.Sent < 150 || c.Replied != c.Sent || c.Lost+c.Dup+c.Stray != 0 {
		t.Errorf("drained %v, counts %+v", res.Drained, c)
	}
	if res.Graph.OK != int64(c.Sent) {
		t.Errorf("Graph accepted %d replies for %d messages", res.Graph.OK, c.Sent)
	}
	if !strings.Contains(log.String(), "fake Graph API on http://"+graphAddr) {
		t.Errorf("log: %s", log.String())
	}
	cancel()
	if err := <-floorDone; err != nil {
		t.Errorf("floor: %v", err)
	}
}
