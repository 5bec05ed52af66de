package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flowgate/flowgate/engine"
	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/internal/redistest"
	"github.com/flowgate/flowgate/internal/secret"
	"github.com/flowgate/flowgate/pipeline"
	"github.com/flowgate/flowgate/providers/meta"
	"github.com/flowgate/flowgate/providers/whatsapp"
	"github.com/flowgate/flowgate/server"
	"github.com/flowgate/flowgate/store"
)

// benchServer is the webhook handler over a real Redis, with the real WhatsApp parser and
// client; the Graph API is an httptest server answering after latency.
type benchServer struct {
	h     http.Handler
	p     *pipeline.Pipeline
	sent  *atomic.Int64
	graph *httptest.Server
}

// newBenchServer starts the fake Graph API and wires the server; onSent, when not nil, is
// told the recipient of each message the fake Graph API receives.
func newBenchServer(b *testing.B, latency time.Duration, onSent func(to string)) *benchServer {
	c, prefix := redistest.Client(b)
	return benchServerOn(b, c, prefix, latency, onSent)
}

// benchServerOn is newBenchServer on a given Redis client and key prefix.
func benchServerOn(b *testing.B, c *redis.Client, prefix string, latency time.Duration, onSent func(to string)) *benchServer {
	sent := &atomic.Int64{}
	graph := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if onSent != nil {
			var m struct{ To string }
			if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
				b.Errorf("fake Graph API: %v", err)
			}
			onSent(m.To)
		}
		io.Copy(io.Discard, r.Body)
		if latency > 0 {
			time.Sleep(latency)
		}
		n := sent.Add(1)
		fmt.Fprintf(w, `{"messaging_product":"whatsapp","messages":[{"id":"wamid.out.%d"}]}`, n)
	}))
	b.Cleanup(graph.Close)
	fl, ds := engine.ParseFlow("greet.yaml", []byte(testFlow))
	if ds.HasErrors() {
		b.Fatal(ds)
	}
	e, ds := engine.New(engine.Config{Flows: []*engine.Flow{fl}, Settings: engine.DefaultSettings()})
	if ds.HasErrors() {
		b.Fatal(ds)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	limiter := store.NewLimiter(c, prefix, store.LimiterConfig{LimiterConfig: meta.LimiterConfig{RatePerSecond: 1e6, PairBurst: 45, PairInterval: time.Millisecond}})
	client := whatsapp.NewClient(whatsapp.Config{PhoneNumberID: account, ClientConfig: meta.ClientConfig{AccessToken: "t", BaseURL: graph.URL, Limiter: limiter, Logger: quiet,
		HTTPClient: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}}})
	st := store.NewRedis(c, store.Options{Prefix: prefix})
	ch := &pipeline.Channel{Name: msg.WhatsApp, Tenant: tenant, Team: team, Account: account, Parse: whatsapp.Parse, Sender: client}
	p := pipeline.New(st, &pipeline.Bundle{Engine: e, Channels: []*pipeline.Channel{ch}})
	p.Log, p.Limiter = quiet, limiter
	srv := server.New(server.Options{Pipeline: p, Store: st, Log: quiet})
	srv.Swap(&server.Site{DefaultTenant: tenant, DefaultTeam: team, Endpoints: []server.Endpoint{{Channel: ch, Webhook: whatsapp.Provider{}, AppSecret: secret.String(appSecret)}}})
	return &benchServer{h: srv.Handler(), p: p, sent: sent, graph: graph}
}

// signedBodies renders n one-message text webhooks from users conversations, signed.
func signedBodies(b *testing.B, n, users int) (bodies [][]byte, sigs []string) {
	now := time.Now()
	for i := range n {
		ev := msg.Event{Kind: msg.KindText, Account: account, ID: fmt.Sprintf("wamid.bench.%d.%d", now.UnixNano(), i), From: fmt.Sprintf("1650555%04d", i%users), Text: "hi", Time: now}
		body, err := whatsapp.WebhookBody(&ev)
		if err != nil {
			b.Fatal(err)
		}
		bodies = append(bodies, body)
		sigs = append(sigs, meta.SignatureHeaderValue(body, appSecret))
	}
	return bodies, sigs
}

func (s *benchServer) post(b *testing.B, body []byte, sig string) {
	if err := s.try(body, sig); err != nil {
		b.Fatal(err)
	}
}

// try posts one webhook; safe from any goroutine.
func (s *benchServer) try(body []byte, sig string) error {
	req := httptest.NewRequest(http.MethodPost, "/webhook/whatsapp/"+tenant+"/"+team, bytes.NewReader(body))
	req.Header.Set(meta.SignatureHeader, sig)
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		return fmt.Errorf("webhook answered %d: %s", w.Code, w.Body)
	}
	return nil
}

// latencies collects durations, safe for concurrent use, and reports their percentiles.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.d = append(l.d, d)
}

// report reports p50, p99 and max in ms as custom metrics.
func (l *latencies) report(b *testing.B) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return
	}
	slices.Sort(l.d)
	at := func(q float64) float64 {
		return float64(l.d[min(len(l.d)-1, int(q*float64(len(l.d))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
	b.ReportMetric(at(1), "max-ms")
}

// openLoop calls fn(i, at) for i in 0..n-1, each in a goroutine of its own started at
// at = start + i/rate: a slow answer does not hold the next request back, so latencies
// measured from at include any queueing (no coordinated omission).
func openLoop(n int, rate float64, fn func(i int, at time.Time)) {
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		at := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
		time.Sleep(time.Until(at))
		wg.Go(func() { fn(i, at) })
	}
	wg.Wait()
}

// BenchmarkWebhookAckLatency: acknowledgement latency of webhooks arriving at 2,000/s (open
// loop), with the workers running against an instant Graph API; p50/p99/max in ms.
func BenchmarkWebhookAckLatency(b *testing.B) {
	s := newBenchServer(b, 0, nil)
	bodies, sigs := signedBodies(b, b.N, 1000)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { s.p.Run(ctx, 64) })
	var lat latencies
	b.ResetTimer()
	openLoop(b.N, 2000, func(i int, at time.Time) {
		if err := s.try(bodies[i], sigs[i]); err != nil {
			b.Error(err)
		}
		lat.add(time.Since(at))
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "webhooks/s")
	lat.report(b)
	cancel()
	wg.Wait()
}

// BenchmarkEndToEndLatency: webhooks at 1,000/s (open loop) over 1,000 conversations, the
// Graph API answering in 150 ms; latency from the webhook's scheduled time to its reply
// reaching the fake Graph API (p50/p99/max in ms; the 150 ms of an answer count only where
// they hold up the conversation's next event). Replies are matched to events per
// conversation, in order.
func BenchmarkEndToEndLatency(b *testing.B) {
	var mu sync.Mutex
	pending := map[string][]time.Time{} // recipient → scheduled times of events not answered
	var lat latencies
	s := newBenchServer(b, 150*time.Millisecond, func(to string) {
		mu.Lock()
		q := pending[strings.TrimPrefix(to, "+")]
		if len(q) == 0 {
			mu.Unlock()
			b.Errorf("a reply to %s answers no event", to)
			return
		}
		at := q[0]
		pending[strings.TrimPrefix(to, "+")] = q[1:]
		mu.Unlock()
		lat.add(time.Since(at))
	})
	bodies, sigs := signedBodies(b, b.N, 1000)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { s.p.Run(ctx, 512) })
	b.ResetTimer()
	openLoop(b.N, 1000, func(i int, at time.Time) {
		mu.Lock()
		user := fmt.Sprintf("1650555%04d", i%1000)
		pending[user] = append(pending[user], at)
		mu.Unlock()
		if err := s.try(bodies[i], sigs[i]); err != nil {
			b.Error(err)
		}
	})
	for s.sent.Load() < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	lat.report(b)
	cancel()
	wg.Wait()
}

// BenchmarkWebhookIngest: signature, parse, dedup and durable enqueue in Redis, 200; the
// handler called in-process by 2×GOMAXPROCS goroutines (no TCP between client and server).
func BenchmarkWebhookIngest(b *testing.B) {
	s := newBenchServer(b, 0, nil)
	bodies, sigs := signedBodies(b, b.N, 1000)
	var next atomic.Int64
	b.SetParallelism(2)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) - 1
			s.post(b, bodies[i], sigs[i])
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "webhooks/s")
}

// BenchmarkEndToEnd: webhooks in through the handler, workers route, run, commit, pace and
// send to the fake Graph API, and record: events/s from the first webhook to the last reply
// received, over 1,000 conversations, with an instant Graph API and with one answering in
// 150 ms.
func BenchmarkEndToEnd(b *testing.B) {
	for _, c := range []struct {
		name    string
		latency time.Duration
		workers int
	}{{"graph=0ms", 0, 8}, {"graph=150ms", 150 * time.Millisecond, 1024}} {
		b.Run(c.name, func(b *testing.B) {
			s := newBenchServer(b, c.latency, nil)
			bodies, sigs := signedBodies(b, b.N, 1000)
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { defer wg.Done(); s.p.Run(ctx, c.workers) }()
			b.ResetTimer()
			var next atomic.Int64
			var posters sync.WaitGroup
			for range 32 {
				posters.Add(1)
				go func() {
					defer posters.Done()
					for i := next.Add(1) - 1; i < int64(b.N); i = next.Add(1) - 1 {
						s.post(b, bodies[i], sigs[i])
					}
				}()
			}
			posters.Wait()
			for s.sent.Load() < int64(b.N) {
				time.Sleep(time.Millisecond)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			cancel()
			wg.Wait()
		})
	}
}

// BenchmarkMemoryPerConversation drives b.N conversations (one text and its reply each)
// through the pipeline on a Redis of its own, then reports what stays: Redis's used_memory
// growth per conversation (its state and its event's dedup marker), the MEMORY USAGE of one
// idle conversation's keys, and the process's Go heap and RSS once the webhook bodies it
// rendered are freed. -benchtime 100000x gives the
// figures after 100,000 conversations.
func BenchmarkMemoryPerConversation(b *testing.B) {
	u, err := redistest.Start()
	if err != nil {
		b.Fatal(err)
	}
	opts, err := redis.ParseURL(u)
	if err != nil {
		b.Fatal(err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	ctx := context.Background()
	s := benchServerOn(b, c, "fg:", 0, nil)
	usedMemory := func() float64 {
		info, err := c.InfoMap(ctx, "memory").Result()
		if err != nil {
			b.Fatal(err)
		}
		n, _ := strconv.ParseFloat(info["Memory"]["used_memory"], 64)
		return n
	}
	bodies, sigs := signedBodies(b, b.N, b.N)
	runtime.GC()
	var m0 runtime.MemStats
	runtime.ReadMemStats(&m0)
	mem0 := usedMemory()
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { s.p.Run(runCtx, 64) })
	b.ResetTimer()
	var next atomic.Int64
	var posters sync.WaitGroup
	for range 8 {
		posters.Go(func() {
			for i := next.Add(1) - 1; i < int64(b.N); i = next.Add(1) - 1 {
				if err := s.try(bodies[i], sigs[i]); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	posters.Wait()
	for s.sent.Load() < int64(b.N) {
		time.Sleep(10 * time.Millisecond)
	}
	b.StopTimer()
	cancel()
	wg.Wait()
	bodies, sigs = nil, nil
	debug.FreeOSMemory() // the rendered bodies are the benchmark's, not the server's
	var m1 runtime.MemStats
	runtime.ReadMemStats(&m1)
	b.ReportMetric((usedMemory()-mem0)/float64(b.N), "redis-B/conv")
	var idle int64
	keys, err := c.Keys(ctx, "fg:*:c:*1650555"+fmt.Sprintf("%04d", 0)+":*").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, k := range keys {
		idle += c.MemoryUsage(ctx, k).Val()
	}
	b.ReportMetric(float64(idle), "idle-conv-B")
	b.ReportMetric(float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc))/float64(b.N), "heap-B/conv")
	b.ReportMetric(float64(m1.HeapAlloc)/(1<<20), "heap-MB")
	b.ReportMetric(rssMB(b), "rss-MB")
}

// rssMB is the process's resident set size in MB, from /proc/self/status.
func rssMB(b *testing.B) float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skip("no /proc: ", err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}
