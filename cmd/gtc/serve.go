package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/flowgate/flowgate/pipeline"
	"github.com/flowgate/flowgate/providers"
	"github.com/flowgate/flowgate/providers/meta"
	"github.com/flowgate/flowgate/server"
	"github.com/flowgate/flowgate/store"
)

// serveConfig is gtc serve's command line, each flag also read from its environment variable.
// defaultWorkers is how many conversations gtc serve works on at once by default: sends
// overlap, so with the Graph API answering in 150 ms it keeps up with about 3,000 events/s.
const defaultWorkers = 512

type serveConfig struct {
	dir          string
	addr         string
	redisURL     string
	prefix       string
	workers      int
	record       string
	logFormat    string
	logLevel     string
	insecure     bool
	lease        time.Duration
	rate         float64
	pairInterval time.Duration
	pairBurst    int
}

const serveUsage = `Usage: gtc serve [options] [DIR]

Runs the webhook server for the bundle in DIR (default ./bundle): Meta's webhooks in, the
flows' replies out through the Graph API, conversation state and queues in Redis.

Options (each also read from the environment variable in brackets):
`

func parseServe(args []string, stderr io.Writer, getenv func(string) string) (*serveConfig, int) {
	fs := flag.NewFlagSet("gtc serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	c := &serveConfig{}
	fs.StringVar(&c.addr, "addr", env("GTC_ADDR", ":8080"), "listen `address` [GTC_ADDR]")
	fs.StringVar(&c.redisURL, "redis", env("REDIS_URL", ""), "Redis `URL` (redis://host:6379/0); empty: an in-memory store that loses everything on exit [REDIS_URL]")
	fs.StringVar(&c.prefix, "redis-prefix", env("GTC_REDIS_PREFIX", "fg:"), "`prefix` of every Redis key, to share one Redis between deployments [GTC_REDIS_PREFIX]")
	workers, _ := strconv.Atoi(env("GTC_WORKERS", "0"))
	fs.IntVar(&c.workers, "workers", workers, "how many conversations are worked on at once (`count`, default 512) [GTC_WORKERS]")
	fs.StringVar(&c.record, "record", env("GTC_RECORD", ""), "write every accepted webhook body to `DIR`, for flowctl test [GTC_RECORD]")
	fs.StringVar(&c.logFormat, "log-format", env("GTC_LOG_FORMAT", "text"), "log `format`: text or json [GTC_LOG_FORMAT]")
	fs.StringVar(&c.logLevel, "log-level", env("GTC_LOG_LEVEL", "info"), "log `level`: debug, info, warn or error [GTC_LOG_LEVEL]")
	fs.BoolVar(&c.insecure, "insecure-skip-signature", false, "accept unsigned webhooks (local experiments only: anyone can then post events)")
	fs.DurationVar(&c.lease, "lease", durEnv(getenv, "GTC_LEASE", 20*time.Second), "how long a worker holds a conversation before another process takes over from it as dead [GTC_LEASE]")
	fs.Float64Var(&c.rate, "rate", floatEnv(getenv, "GTC_RATE", 80), "messages per second per business account (phone number, page, Instagram account), across all processes [GTC_RATE]")
	fs.DurationVar(&c.pairInterval, "pair-interval", durEnv(getenv, "GTC_PAIR_INTERVAL", 6*time.Second), "steady pace of messages to one WhatsApp user [GTC_PAIR_INTERVAL]")
	pairBurst, _ := strconv.Atoi(env("GTC_PAIR_BURST", "10"))
	fs.IntVar(&c.pairBurst, "pair-burst", pairBurst, "messages one user may get at once before the pace applies (at most 45) [GTC_PAIR_BURST]")
	fs.Usage = func() {
		fmt.Fprint(stderr, serveUsage)
		fs.PrintDefaults()
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, 0
			}
			return nil, 2
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	switch {
	case len(pos) > 1:
		fmt.Fprintf(stderr, "gtc serve: one bundle directory, not %d (%s)\n", len(pos), strings.Join(pos, " "))
		return nil, 2
	case strings.ContainsAny(c.prefix, "{}"):
		fmt.Fprintf(stderr, "gtc serve: --redis-prefix %q: braces are not allowed (they would change the keys' hash tags)\n", c.prefix)
		return nil, 2
	case c.logFormat != "text" && c.logFormat != "json":
		fmt.Fprintf(stderr, "gtc serve: --log-format %q: use text or json\n", c.logFormat)
		return nil, 2
	}
	c.dir = "./bundle"
	if len(pos) == 1 {
		c.dir = pos[0]
	}
	if c.workers <= 0 {
		c.workers = defaultWorkers
	}
	return c, -1
}

func durEnv(getenv func(string) string, name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(getenv(name)); err == nil && d > 0 {
		return d
	}
	return def
}

func floatEnv(getenv func(string) string, name string, def float64) float64 {
	if f, err := strconv.ParseFloat(getenv(name), 64); err == nil && f > 0 {
		return f
	}
	return def
}

func newLogger(w io.Writer, format, level string) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// runServe is gtc serve. It returns when SIGTERM or SIGINT stopped the server, or at once
// with a one-line reason when it cannot start.
func runServe(args []string, stderr io.Writer, getenv func(string) string) int {
	cfg, code := parseServe(args, stderr, getenv)
	if cfg == nil {
		return code
	}
	log := newLogger(stderr, cfg.logFormat, cfg.logLevel)
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "gtc serve: "+format+"\n", a...)
		return 1
	}

	redis.SetLogger(redisLogger{log}) // the client's own reconnect chatter, at debug level
	reg := prometheus.NewRegistry()
	var st store.Store
	var client redis.UniversalClient
	if cfg.redisURL == "" {
		emb, closeEmb, err := store.NewEmbedded(store.EmbeddedOptions{})
		if err != nil {
			return fail("embedded store: %v", err)
		}
		defer closeEmb()
		st, client = emb, emb.Client()
		log.Warn("no --redis: state and queues are in memory and are lost when the process stops")
	} else {
		opts, err := redis.ParseURL(cfg.redisURL)
		if err != nil {
			return fail("--redis %s: not a Redis URL (redis://[:password@]host:port/db)", redactURL(cfg.redisURL))
		}
		// The store's scripts are not idempotent: it retries where it knows what a retry
		// means, never the client.
		opts.MaxRetries = -1
		rc := redis.NewClient(opts)
		defer rc.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err = rc.Ping(ctx).Err()
		cancel()
		if err != nil {
			return fail("Redis at %s cannot be reached: %v", redactURL(cfg.redisURL), err)
		}
		st, client = store.NewRedis(rc, store.Options{Prefix: cfg.prefix}), rc
	}
	metrics := server.NewMetrics(reg, st)
	channels := providers.Registry()
	limiter := store.NewLimiter(client, cfg.prefix, store.LimiterConfig{
		LimiterConfig: meta.LimiterConfig{RatePerSecond: cfg.rate, PairInterval: cfg.pairInterval, PairBurst: cfg.pairBurst},
		OnError:       func(err error) { log.Warn("rate limiter", "err", err) }})
	// Every claim in flight may wait on the Graph API: keep a connection for each.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = cfg.workers
	w := &wiring{cfg: cfg, log: log, metrics: metrics, reg: channels, limiter: limiter, http: &http.Client{Transport: tr}}
	pb, site, err := w.load(getenv)
	if err != nil {
		return fail("%v", err)
	}

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fail("cannot listen on %s: %v", cfg.addr, err)
	}
	p := pipeline.New(st, pb)
	p.Log, p.Lease, p.OnReport, p.Limiter = log, cfg.lease, metrics.Observe, limiter
	srv := server.New(server.Options{Pipeline: p, Store: st, Log: log, Metrics: metrics, RecordDir: cfg.record,
		InsecureSkipSignature: cfg.insecure, Channels: channels.Names()})
	srv.Swap(site)
	if cfg.insecure {
		log.Warn("SIGNATURE CHECKS ARE OFF (--insecure-skip-signature): anyone who can reach this server can post events as any user")
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	workCtx, stopWork := context.WithCancel(context.Background())
	worked := make(chan struct{})
	go func() {
		p.Run(workCtx, cfg.workers)
		close(worked)
	}()
	reload := w.watch(ctx, getenv, p, srv)
	log.Info("gtc serve: listening", "addr", ln.Addr().String(), "bundle", cfg.dir, "workers", cfg.workers, "store", storeName(cfg))

	select {
	case <-ctx.Done():
	case err := <-served:
		stopWork()
		<-worked
		return fail("server stopped: %v", err)
	}
	log.Info("gtc serve: stopping: no new webhooks; finishing the events in hand")
	shut, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := hs.Shutdown(shut); err != nil {
		log.Warn("shutdown", "err", err)
	}
	stopWork()
	<-worked
	<-reload
	log.Info("gtc serve: stopped")
	return 0
}

func storeName(cfg *serveConfig) string {
	if cfg.redisURL == "" {
		return "in-memory"
	}
	return redactURL(cfg.redisURL)
}

// redactURL drops the password from a Redis URL for messages; a string that does not parse
// as a URL is not shown at all.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unreadable URL)"
	}
	return u.Redacted()
}

// redisLogger sends go-redis's internal messages (failed dials while Redis is away) to the
// debug log: the errors that matter are logged where an operation fails.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.Log(ctx, slog.LevelDebug, "redis client: "+fmt.Sprintf(format, v...))
}
