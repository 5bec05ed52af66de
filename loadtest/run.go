package loadtest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"slices"
	"time"
)

// LocalConfig is a self-contained load test: it starts a private redis-server, the fake Graph
// API, and gtc serve and the floor from the gtc binary, and runs the scenarios against both.
type LocalConfig struct {
	GTC                 string   // the gtc binary
	Scale               float64  // multiplies every scenario's duration (default 1)
	MemoryConversations int      // conversations of the memory scenario (default 100,000)
	Only                []string // scenario names to run (default all)
	NoFloor             bool     // skip the floor
	ServeArgs           []string // extra gtc serve flags
	Machine             string   // describes the machine in the report
	Log                 io.Writer
}

// RunLocal runs the scenarios and returns their report.
func RunLocal(ctx context.Context, cfg LocalConfig) (*Report, error) {
	if cfg.Scale <= 0 {
		cfg.Scale = 1
	}
	if cfg.MemoryConversations <= 0 {
		cfg.MemoryConversations = 100_000
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	l, err := startLocal(ctx, cfg.GTC, GraphConfig{}, cfg.ServeArgs)
	if err != nil {
		return nil, err
	}
	defer l.close()
	rep := &Report{Machine: cfg.Machine}
	if rep.Machine == "" {
		rep.Machine = fmt.Sprintf("%d CPUs, %s/%s", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH)
	}
	r := &runner{l: l, log: cfg.Log}
	for _, sc := range Scenarios(cfg.Scale, cfg.MemoryConversations) {
		if len(cfg.Only) > 0 && !slices.Contains(cfg.Only, sc.Name) {
			continue
		}
		o := Outcome{Scenario: sc}
		if !cfg.NoFloor && sc.Channel == "" {
			if o.Floor, err = r.run(ctx, sc, "floor"); err != nil {
				return rep, fmt.Errorf("scenario %s, floor: %w", sc.Name, err)
			}
		}
		if o.Serve, err = r.run(ctx, sc, "gtc serve"); err != nil {
			return rep, fmt.Errorf("scenario %s, gtc serve: %w", sc.Name, err)
		}
		rep.Outcomes = append(rep.Outcomes, o)
	}
	return rep, nil
}

// TargetConfig points the generator at a deployment: its webhook URL, signed with its app
// secret, replies going to a fake Graph API this process serves (the deployment's
// api_base_url must name it).
type TargetConfig struct {
	Gen       GenConfig
	GraphAddr string // where the fake Graph API listens
	Graph     GraphConfig
	Drain     time.Duration
	Log       io.Writer
}

// RunTarget sends the load to a deployment and returns what it measured.
func RunTarget(ctx context.Context, cfg TargetConfig) (*Result, error) {
	g := NewGraph(cfg.Graph)
	ln, err := net.Listen("tcp", cfg.GraphAddr)
	if err != nil {
		return nil, fmt.Errorf("fake Graph API: %w", err)
	}
	srv := &http.Server{Handler: g}
	go srv.Serve(ln)
	defer srv.Close()
	if cfg.Gen.Users.Prefix == "" {
		cfg.Gen.Users = UserSpace{Prefix: "299"}
	}
	if cfg.Gen.RunID == "" {
		cfg.Gen.RunID = randomHex(4)
	}
	fmt.Fprintf(cfg.Log, "fake Graph API on http://%s (the deployment's api_base_url); sending to %s\n", ln.Addr(), cfg.Gen.URL)
	t := NewTracker(cfg.Gen.Conversations)
	g.Track(t, cfg.Gen.Users)
	gen := Generate(ctx, cfg.Gen, t)
	t.CloseWindow(gen.Stopped)
	res := measure(cfg.Gen.URL, gen, t, drain(ctx, t, cfg.Drain))
	res.Graph = g.Counts()
	return res, nil
}

// measure computes a run's figures from what the generator and the tracker saw.
func measure(target string, gen *GenResult, t *Tracker, drained bool) *Result {
	res := &Result{Target: target, Codes: gen.Codes, Drained: drained}
	res.IngestRPS = float64(gen.Requests) / gen.Elapsed.Seconds()
	res.AckP50, res.AckP99 = percentile(gen.Ack, 0.50), percentile(gen.Ack, 0.99)
	if len(gen.Ack) > 0 {
		res.AckMax = gen.Ack[len(gen.Ack)-1]
	}
	res.Counts = t.Counts()
	res.E2ERate = float64(res.Counts.InWindow) / gen.Elapsed.Seconds()
	e2e := t.E2E()
	res.E2EP50, res.E2EP99 = percentile(e2e, 0.50), percentile(e2e, 0.99)
	return res
}
