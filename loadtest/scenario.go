package loadtest

import (
	"context"
	"fmt"
	"io"
	"time"
)

// Scenario is one load shape, run against the floor and against gtc serve in turn.
type Scenario struct {
	Name          string        `json:"name"`
	Channel       string        `json:"channel,omitempty"`     // the webhooks' channel: messenger, instagram, or WhatsApp when empty (the floor only speaks WhatsApp)
	Rate          float64       `json:"rate,omitempty"`        // open loop, webhooks/s
	Connections   int           `json:"connections,omitempty"` // closed loop
	Conversations int           `json:"conversations"`
	Duration      time.Duration `json:"duration_ns"`
	Batch         int           `json:"batch"`
	GraphLatency  time.Duration `json:"graph_latency_ns"` // negative: instant
	Drain         time.Duration `json:"-"`                // how long to wait for the last replies
	RoundTrips    bool          `json:"-"`                // count Redis round trips through a proxy
	Memory        bool          `json:"-"`                // measure memory once the run settles
	rows          []string      // which figures this scenario reports
}

// Scenarios are the load shapes behind the performance targets, scaled: durations by scale,
// and the memory run to memConvs conversations.
func Scenarios(scale float64, memConvs int) []Scenario {
	d := func(s float64) time.Duration { return time.Duration(s * scale * float64(time.Second)) }
	instant, graph150 := -time.Duration(1), 150*time.Millisecond
	memRate := 1000.0
	return []Scenario{
		{Name: "ingest", Connections: 32, Conversations: 1000, Duration: d(10), Batch: 1, GraphLatency: instant, Drain: d(30),
			rows: []string{rowIngest, rowAck}},
		{Name: "ack-2000", Rate: 2000, Conversations: 1000, Duration: d(10), Batch: 1, GraphLatency: instant, Drain: d(30),
			rows: []string{rowAck, rowE2ELat}},
		{Name: "e2e-instant", Connections: 8, Conversations: 1000, Duration: d(10), Batch: 1, GraphLatency: instant, Drain: d(30),
			rows: []string{rowE2E, rowE2ELat, rowCommands}},
		{Name: "e2e-150ms", Rate: 2500, Conversations: 1000, Duration: d(10), Batch: 1, GraphLatency: graph150, Drain: d(10),
			rows: []string{rowE2E}},
		{Name: "p99-1000-150ms", Rate: 1000, Conversations: 1000, Duration: d(10), Batch: 1, GraphLatency: graph150, Drain: d(20),
			rows: []string{rowE2E, rowE2ELat}},
		{Name: "messenger", Channel: "messenger", Rate: 1000, Conversations: 1000, Duration: d(10), Batch: 1, GraphLatency: graph150, Drain: d(20),
			rows: []string{rowAck, rowE2E, rowE2ELat}},
		{Name: "instagram", Channel: "instagram", Rate: 1000, Conversations: 1000, Duration: d(10), Batch: 1, GraphLatency: graph150, Drain: d(20),
			rows: []string{rowAck, rowE2E, rowE2ELat}},
		{Name: "batch-10", Rate: 200, Conversations: 1000, Duration: d(10), Batch: 10, GraphLatency: instant, Drain: d(30),
			rows: []string{rowIngest, rowAck, rowE2E}},
		{Name: "round-trips", Rate: 500, Conversations: 1000, Duration: d(5), Batch: 1, GraphLatency: instant, Drain: d(20), RoundTrips: true,
			rows: []string{rowTrips, rowCommands}},
		{Name: "memory", Rate: memRate, Conversations: memConvs, Duration: time.Duration(float64(memConvs) / memRate * float64(time.Second)),
			Batch: 1, GraphLatency: instant, Drain: d(30) + time.Duration(memConvs/150)*time.Second, Memory: true, rows: []string{rowMemory, rowRSS}},
	}
}

// Result is one scenario's figures for one target.
type Result struct {
	Target         string             `json:"target"` // "gtc serve" or "floor"
	IngestRPS      float64            `json:"ingest_requests_per_s"`
	AckP50         time.Duration      `json:"ack_p50_ns"`
	AckP99         time.Duration      `json:"ack_p99_ns"`
	AckMax         time.Duration      `json:"ack_max_ns"`
	E2ERate        float64            `json:"e2e_events_per_s"`
	E2EP50         time.Duration      `json:"e2e_p50_ns"`
	E2EP99         time.Duration      `json:"e2e_p99_ns"`
	Counts         Counts             `json:"counts"`
	Drained        bool               `json:"drained"` // every accepted message was answered before the drain timed out
	Codes          map[string]int64   `json:"codes,omitempty"`
	Graph          GraphCounts        `json:"graph"`
	Commands       float64            `json:"redis_commands_per_event"` // Redis INFO commandstats, per replied event
	CommandsByName map[string]float64 `json:"redis_commands_per_event_by_name,omitempty"`
	Scripts        float64            `json:"redis_scripts_per_event"`                // of which EVAL/EVALSHA
	RoundTrips     float64            `json:"redis_round_trips_per_event,omitempty"`  // counted by a TCP proxy
	RedisPerConv   float64            `json:"redis_bytes_per_conversation,omitempty"` // used_memory delta / conversations
	StateBytes     float64            `json:"state_bytes_sampled,omitempty"`          // MEMORY USAGE of sampled conversation states
	RSS            int64              `json:"rss_bytes"`
}

// runner runs scenarios in the self-contained setup.
type runner struct {
	l   *local
	log io.Writer
	n   int // runs so far, for prefixes and user spaces
}

// run runs one scenario against one target ("floor" or "gtc serve").
func (r *runner) run(ctx context.Context, sc Scenario, target string) (*Result, error) {
	r.n++
	prefix := fmt.Sprintf("lt%d:", r.n)
	users := UserSpace{Prefix: fmt.Sprintf("2%02d", r.n%100)}
	r.l.graph.SetConfig(GraphConfig{Latency: sc.GraphLatency, Token: r.l.token})
	redisURL := r.l.redis.url()
	var proxy *roundTripProxy
	if sc.RoundTrips {
		var err error
		if proxy, err = newRoundTripProxy(r.l.redis.addr()); err != nil {
			return nil, err
		}
		defer proxy.close()
		redisURL = proxy.url()
	}
	var proc *child
	var err error
	if target == "floor" {
		proc, err = r.l.floor(ctx, redisURL, prefix)
	} else {
		proc, err = r.l.serve(ctx, redisURL, prefix, "--rate", "1000000", "--pair-burst", "45", "--pair-interval", "1ms")
	}
	if err != nil {
		return nil, err
	}
	defer proc.kill()
	before, err := readRedisInfo(ctx, r.l.rdb)
	if err != nil {
		return nil, err
	}
	tripsBefore := int64(0)
	if proxy != nil {
		tripsBefore = proxy.trips.Load()
	}
	graphBefore := r.l.graph.Counts()
	t := NewTracker(sc.Conversations)
	r.l.graph.Track(t, users)
	fmt.Fprintf(r.log, "  %-16s %-9s ", sc.Name, target)
	gen := Generate(ctx, GenConfig{URL: webhookURL(proc.addr, sc.Channel), AppSecret: r.l.secret, Channel: sc.Channel, Account: localAccount(sc.Channel),
		Users: users, Conversations: sc.Conversations, Rate: sc.Rate, Connections: sc.Connections,
		Duration: sc.Duration, Batch: sc.Batch, RunID: randomHex(4)}, t)
	t.CloseWindow(gen.Stopped)
	drained := drain(ctx, t, sc.Drain)
	res := measure(target, gen, t, drained)
	res.RSS = rss(proc.cmd.Process.Pid)
	g := r.l.graph.Counts()
	res.Graph = GraphCounts{Received: g.Received - graphBefore.Received, OK: g.OK - graphBefore.OK,
		Throttled: g.Throttled - graphBefore.Throttled, Failed: g.Failed - graphBefore.Failed,
		TimedOut: g.TimedOut - graphBefore.TimedOut, Other: g.Other - graphBefore.Other}
	after, err := readRedisInfo(ctx, r.l.rdb)
	if err != nil {
		return nil, err
	}
	if events := float64(res.Counts.Replied); events > 0 {
		total, scripts, byName := commandsBetween(before, after)
		res.Commands, res.Scripts = float64(total)/events, float64(scripts)/events
		res.CommandsByName = map[string]float64{}
		for name, n := range byName {
			res.CommandsByName[name] = float64(n) / events
		}
		if proxy != nil {
			res.RoundTrips = float64(proxy.trips.Load()-tripsBefore) / events
		}
	}
	if sc.Memory {
		sleep(ctx, 2*time.Second) // let leases and the last acknowledgements settle
		if after, err = readRedisInfo(ctx, r.l.rdb); err != nil {
			return nil, err
		}
		res.RedisPerConv = float64(after.UsedBytes-before.UsedBytes) / float64(sc.Conversations)
		res.StateBytes = sampleStates(ctx, r.l, prefix)
		res.RSS = rss(proc.cmd.Process.Pid)
	}
	r.l.rdb.Del(ctx, prefix+"q") // the floor's backlog, if any
	fmt.Fprintf(r.log, "ingest %7.0f/s ack p99 %7s  e2e %7.0f/s p99 %7s  lost %d dup %d reordered %d%s\n",
		res.IngestRPS, ms(res.AckP99), res.E2ERate, ms(res.E2EP99), res.Counts.Lost, res.Counts.Dup, res.Counts.Reordered, undrained(res))
	return res, nil
}

func undrained(r *Result) string {
	if r.Drained {
		return ""
	}
	return fmt.Sprintf(" (%d still unanswered when the drain ended)", r.Counts.Lost)
}

// drain waits until every accepted message has its reply, for at most limit.
func drain(ctx context.Context, t *Tracker, limit time.Duration) bool {
	end := time.Now().Add(limit)
	for ctx.Err() == nil {
		if t.Outstanding() == 0 {
			return true
		}
		if time.Now().After(end) {
			return false
		}
		sleep(ctx, 50*time.Millisecond)
	}
	return false
}

// sampleStates averages MEMORY USAGE over up to 200 conversation states under prefix.
func sampleStates(ctx context.Context, l *local, prefix string) float64 {
	var total, n int64
	iter := l.rdb.Scan(ctx, 0, prefix+"*:c:*:s", 1000).Iterator()
	for iter.Next(ctx) && n < 200 {
		if v, err := l.rdb.MemoryUsage(ctx, iter.Val()).Result(); err == nil {
			total += v
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return float64(total) / float64(n)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/1e6) }

// TargetScenario describes a --target run for the report.
func TargetScenario(rate float64, conns, convs int, d time.Duration, batch int, latency time.Duration) Scenario {
	return Scenario{Name: "target", Rate: rate, Connections: conns, Conversations: convs, Duration: d, Batch: batch,
		GraphLatency: latency, rows: []string{rowIngest, rowAck, rowE2E, rowE2ELat}}
}
