package loadtest

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// SoakConfig is a run under faults: steady load on one gtc serve while Redis is killed and
// restarted, gtc serve is killed and restarted, and the Graph API throttles and fails for a
// while.
type SoakConfig struct {
	GTC           string
	Duration      time.Duration // of the load (default 3 minutes); faults at 20%, 45% and 70% of it
	Rate          float64       // webhooks per second (default 40, under the number's 80 messages/s)
	Conversations int           // default 200
	GraphLatency  time.Duration // default 50 ms
	Log           io.Writer
}

// Fault is one injected fault and how long the system took to get over it: from the fault
// until every message sent before its end had its reply.
type Fault struct {
	Name      string        `json:"name"`
	At        time.Duration `json:"at_ns"`       // since the load started
	Lasted    time.Duration `json:"lasted_ns"`   // how long the fault itself lasted
	Recovery  time.Duration `json:"recovery_ns"` // from the fault until caught up
	Recovered bool          `json:"recovered"`
}

// SoakReport is what a soak found.
type SoakReport struct {
	Counts             Counts           `json:"counts"`
	PossibleDuplicates int              `json:"possible_duplicates"` // flowgate_possible_duplicates_total, over every process
	FailedSends        int              `json:"failed_sends"`        // replies given up on after the client's retries (flowgate_sends_total{result="failed"})
	Faults             []Fault          `json:"faults"`
	Codes              map[string]int64 `json:"codes"`
	Graph              GraphCounts      `json:"graph"`
	Problems           []string         `json:"problems"` // empty when every promise held
}

// Soak runs the soak and checks its promises: every accepted webhook's event answered, no
// reply duplicated beyond the crash window's count, none reordered.
func Soak(ctx context.Context, cfg SoakConfig) (*SoakReport, error) {
	if cfg.Duration <= 0 {
		cfg.Duration = 3 * time.Minute
	}
	if cfg.Rate <= 0 {
		cfg.Rate = 40
	}
	if cfg.Conversations <= 0 {
		cfg.Conversations = 200
	}
	if cfg.GraphLatency == 0 {
		cfg.GraphLatency = 50 * time.Millisecond
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	steady := GraphConfig{Latency: cfg.GraphLatency, PerSecond: 80}
	l, err := startLocal(ctx, cfg.GTC, steady, nil)
	if err != nil {
		return nil, err
	}
	defer l.close()
	steady.Token = l.token
	proc, err := l.serve(ctx, l.redis.url(), "soak:", "--lease", "2s", "--pair-burst", "45", "--pair-interval", "1ms")
	if err != nil {
		return nil, err
	}
	defer func() { proc.kill() }()

	users := UserSpace{Prefix: "301"}
	t := NewTracker(cfg.Conversations)
	l.graph.Track(t, users)
	rep := &SoakReport{}
	start := time.Now()
	var gen *GenResult
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		gen = Generate(ctx, GenConfig{URL: webhookURL(proc.addr, ""), AppSecret: l.secret, Account: localPhone,
			Users: users, Conversations: cfg.Conversations, Rate: cfg.Rate, Duration: cfg.Duration, Batch: 1,
			Retry: 2 * time.Minute, RunID: randomHex(4)}, t)
	}()

	var recMu sync.Mutex
	var failedBefore atomic.Int64 // replies given up on by processes killed since
	failedSoFar := func() float64 {
		return float64(failedBefore.Load()) + metric(proc.addr, "flowgate_sends_total", `result="failed"`)
	}
	watch := func(f Fault, from, caughtUpTo time.Time) {
		defer wg.Done()
		f.At = from.Sub(start)
		end := time.Now().Add(3 * time.Minute)
		for ctx.Err() == nil && time.Now().Before(end) {
			// Caught up: every message sent before the fault's end answered, but for the
			// replies given up on after retries so far.
			if t.unansweredBefore(caughtUpTo) <= int(failedSoFar()) {
				f.Recovery, f.Recovered = time.Since(from), true
				break
			}
			sleep(ctx, 100*time.Millisecond)
		}
		fmt.Fprintf(cfg.Log, "soak: %s: lasted %s, %s\n", f.Name, f.Lasted.Round(time.Millisecond), f.recovery())
		recMu.Lock()
		rep.Faults = append(rep.Faults, f)
		recMu.Unlock()
	}
	at := func(frac float64) { sleep(ctx, time.Until(start.Add(time.Duration(frac*float64(cfg.Duration))))) }

	at(0.2)
	from := time.Now()
	l.redis.kill()
	sleep(ctx, time.Second)
	if err := l.redis.start(); err != nil {
		return nil, fmt.Errorf("soak: restarting Redis: %w", err)
	}
	wg.Add(1)
	go watch(Fault{Name: "Redis killed (SIGKILL) and restarted", Lasted: time.Since(from)}, from, time.Now())

	at(0.45)
	dups, failed := counters(proc.addr)
	failedBefore.Store(int64(failed))
	from = time.Now()
	proc.kill()
	sleep(ctx, time.Second)
	if err := proc.start(ctx); err != nil {
		return nil, fmt.Errorf("soak: restarting gtc serve: %w", err)
	}
	wg.Add(1)
	go watch(Fault{Name: "gtc serve killed (SIGKILL) and restarted", Lasted: time.Since(from)}, from, time.Now())

	at(0.7)
	from = time.Now()
	bad := steady
	bad.PerSecond, bad.FailRate, bad.TimeoutRate, bad.TimeoutAfter = 20, 0.2, 0.02, 20*time.Second
	l.graph.SetConfig(bad)
	sleep(ctx, cfg.Duration/10)
	l.graph.SetConfig(steady)
	wg.Add(1)
	go watch(Fault{Name: "Graph API throttling (20/s), 20% 5xx, 2% timeouts", Lasted: time.Since(from)}, from, time.Now())

	wg.Wait()
	for end := time.Now().Add(2 * time.Minute); time.Now().Before(end) && t.Outstanding() > int(failedSoFar()); {
		sleep(ctx, 100*time.Millisecond)
	}
	d, f := counters(proc.addr)
	rep.PossibleDuplicates, rep.FailedSends = int(dups+d), int(failed+f)
	rep.Counts, rep.Codes, rep.Graph = t.Counts(), gen.Codes, l.graph.Counts()
	c := rep.Counts
	if c.Lost > rep.FailedSends {
		rep.Problems = append(rep.Problems, fmt.Sprintf("%d accepted webhooks' events never answered, %d replies given up on after retries", c.Lost, rep.FailedSends))
	}
	if c.Pending > 0 {
		rep.Problems = append(rep.Problems, fmt.Sprintf("%d webhooks never accepted", c.Pending))
	}
	if c.Dup > rep.PossibleDuplicates {
		rep.Problems = append(rep.Problems, fmt.Sprintf("%d replies duplicated, %d counted in the crash window", c.Dup, rep.PossibleDuplicates))
	}
	if c.Reordered > 0 {
		rep.Problems = append(rep.Problems, fmt.Sprintf("%d replies reordered", c.Reordered))
	}
	if c.Stray > 0 {
		rep.Problems = append(rep.Problems, fmt.Sprintf("%d replies to messages never sent", c.Stray))
	}
	for _, f := range rep.Faults {
		if !f.Recovered {
			rep.Problems = append(rep.Problems, f.Name+": not recovered within 3 minutes")
		}
	}
	return rep, nil
}

func (f Fault) recovery() string {
	if !f.Recovered {
		return "not caught up within 3 minutes"
	}
	return "caught up after " + f.Recovery.Round(time.Millisecond).String()
}

// counters reads a gtc serve's replies possibly sent twice and replies given up on.
func counters(addr string) (dups, failed float64) {
	return metric(addr, "flowgate_possible_duplicates_total"), metric(addr, "flowgate_sends_total", `result="failed"`)
}

// WriteMarkdown writes the soak's findings.
func (r *SoakReport) WriteMarkdown(w io.Writer) {
	c := r.Counts
	fmt.Fprintln(w, "| soak | measured |")
	fmt.Fprintln(w, "|---|---|")
	fmt.Fprintf(w, "| webhooks sent / accepted / answered | %d / %d / %d |\n", c.Sent, c.Accepted, c.Replied)
	fmt.Fprintf(w, "| unanswered (replies given up on after retries) / duplicated (crash window count) / reordered | %d (%d) / %d (%d) / %d |\n", c.Lost, r.FailedSends, c.Dup, r.PossibleDuplicates, c.Reordered)
	for _, f := range r.Faults {
		fmt.Fprintf(w, "| %s at %s: lasted / recovery | %s / %s |\n", f.Name, f.At.Round(time.Second), f.Lasted.Round(time.Millisecond), f.recovery())
	}
	fmt.Fprintf(w, "| webhook answers other than 200 (Meta would deliver them again) | %s |\n", codes(r.Codes))
	fmt.Fprintf(w, "| Graph API: received / ok / 130429 / 5xx / timed out | %d / %d / %d / %d / %d |\n", r.Graph.Received, r.Graph.OK, r.Graph.Throttled, r.Graph.Failed, r.Graph.TimedOut)
	if len(r.Problems) == 0 {
		fmt.Fprintln(w, "\nsoak: every promise held")
	}
	for _, p := range r.Problems {
		fmt.Fprintln(w, "\nsoak FAILED:", p)
	}
}

// codes lists answers by status, "no answer" for connections refused or cut.
func codes(m map[string]int64) string {
	var parts []string
	for code, n := range m {
		if code == "error" {
			code = "no answer"
		}
		parts = append(parts, fmt.Sprintf("%s: %d", code, n))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}
