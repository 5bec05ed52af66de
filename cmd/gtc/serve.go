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
	"net/http/pprof"
	"net/url"
	"os/signal"
	"runtime/debug"
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
	cluster      string
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
	sandbox      bool
	devConsole   bool
	debugAddr    string
}

// serveGCPercent is the Go collector's GOGC in gtc serve unless the environment sets one. The
// server's live heap is small (conversations live in Redis), so a heap four times as large
// costs a few tens of MB, and the collector runs a fifth as often.
const serveGCPercent = 400

const serveUsage = `Usage: gtc serve [options] [DIR]

Runs the webhook server for the bundle in DIR (default ./bundle): Meta's webhooks in, the
flows' replies out through the Graph API, conversation state and queues in Redis.

With --sandbox it needs nothing but flows: DIR is a bundle or any directory with flows/ (make
run serves this repository's examples), state stays in memory, one WhatsApp account with
generated secrets stands in for the bundle's channels, and every reply goes to an in-process
fake of the Graph API instead of Meta. The dev console at /dev/ chats with the flows.

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
	fs.StringVar(&c.cluster, "redis-cluster", env("REDIS_CLUSTER", ""), "Redis Cluster seed `nodes`: host:port,host:port,... (or a redis:// URL with more seeds as ?addr=host:port); instead of --redis [REDIS_CLUSTER]")
	fs.StringVar(&c.prefix, "redis-prefix", env("GTC_REDIS_PREFIX", "fg:"), "`prefix` of every Redis key, to share one Redis between deployments [GTC_REDIS_PREFIX]")
	workers, _ := strconv.Atoi(env("GTC_WORKERS", "0"))
	fs.IntVar(&c.workers, "workers", workers, "how many conversations are worked on at once (`count`, default 512) [GTC_WORKERS]")
	fs.StringVar(&c.record, "record", env("GTC_RECORD", ""), "write every accepted webhook body to `DIR`, for flowctl test [GTC_RECORD]")
	fs.StringVar(&c.logFormat, "log-format", env("GTC_LOG_FORMAT", "text"), "log `format`: text or json [GTC_LOG_FORMAT]")
	fs.StringVar(&c.logLevel, "log-level", env("GTC_LOG_LEVEL", "info"), "log `level`: debug, info, warn or error [GTC_LOG_LEVEL]")
	fs.BoolVar(&c.sandbox, "sandbox", false, "serve the flows of DIR to the dev console only: in-memory state, generated secrets, nothing sent to Meta (make run)")
	fs.BoolVar(&c.devConsole, "dev-console", false, "also serve the dev console at /dev/ outside the sandbox: anyone who can open it can post events as any user and read their conversations")
	fs.StringVar(&c.debugAddr, "debug-addr", env("GTC_DEBUG_ADDR", ""), "serve Go's profiler (/debug/pprof/) on this `address`, for example 127.0.0.1:6060; empty: off. Keep it private: profiles show what the process is doing [GTC_DEBUG_ADDR]")
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
	case c.redisURL != "" && c.cluster != "":
		fmt.Fprintf(stderr, "gtc serve: --redis and --redis-cluster (or REDIS_URL and REDIS_CLUSTER) are both set: use one\n")
		return nil, 2
	case c.redisURL != "" && redisURLErr(c.redisURL) != nil:
		fmt.Fprintf(stderr, "gtc serve: --redis %s: not a Redis URL (redis://[:password@]host:port/db)\n", redactURL(c.redisURL))
		return nil, 2
	case c.cluster != "" && clusterOptionsErr(c.cluster) != nil:
		fmt.Fprintf(stderr, "gtc serve: %v\n", clusterOptionsErr(c.cluster))
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
	if getenv("GOGC") == "" {
		debug.SetGCPercent(serveGCPercent)
	}

	redis.SetLogger(redisLogger{log}) // the client's own reconnect chatter, at debug level
	reg := prometheus.NewRegistry()
	var st store.Store
	var client redis.UniversalClient
	if cfg.sandbox && (cfg.redisURL != "" || cfg.cluster != "") {
		log.Info("sandbox: --redis, --redis-cluster (and REDIS_URL, REDIS_CLUSTER) ignored: the sandbox keeps its state in memory")
		cfg.redisURL, cfg.cluster = "", ""
	}
	if cfg.sandbox {
		// Nothing reaches Meta, so its pair rate need not slow the author down.
		cfg.pairBurst, cfg.pairInterval = 45, 100*time.Millisecond
	}
	if cfg.redisURL == "" && cfg.cluster == "" {
		emb, closeEmb, err := store.NewEmbedded(store.EmbeddedOptions{})
		if err != nil {
			return fail("embedded store: %v", err)
		}
		defer closeEmb()
		st, client = emb, emb.Client()
		if cfg.sandbox {
			log.Info("sandbox: state and queues are in memory; replies go to a fake Graph API, nothing reaches Meta")
		} else {
			log.Warn("no --redis: state and queues are in memory and are lost when the process stops")
		}
	} else {
		rc, err := connectRedis(cfg)
		if err != nil && cfg.cluster != "" {
			return fail("Redis Cluster %s cannot be used: %v", strings.TrimPrefix(storeName(cfg), "cluster "), err)
		}
		if err != nil {
			return fail("Redis at %s cannot be reached: %v", storeName(cfg), err)
		}
		defer rc.Client().Close()
		st, client = rc, rc.Client()
	}
	metrics := server.NewMetrics(reg, st)
	channels := providers.Registry()
	limiter := store.NewLimiter(client, cfg.prefix, store.LimiterConfig{
		LimiterConfig: meta.LimiterConfig{RatePerSecond: cfg.rate, PairInterval: cfg.pairInterval, PairBurst: cfg.pairBurst},
		OnError:       func(err error) { log.Warn("rate limiter", "err", err) }})
	// Every claim in flight may wait on the Graph API: keep a connection for each.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = cfg.workers
	w := &wiring{cfg: cfg, log: log, metrics: metrics, reg: channels, sandbox: newSandbox(cfg.sandbox), limiter: limiter, http: &http.Client{Transport: tr}}
	pb, site, err := w.load(getenv)
	if err != nil {
		return fail("%v", err)
	}

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fail("cannot listen on %s: %v", cfg.addr, err)
	}
	if cfg.debugAddr != "" {
		dln, err := net.Listen("tcp", cfg.debugAddr)
		if err != nil {
			return fail("--debug-addr: cannot listen on %s: %v", cfg.debugAddr, err)
		}
		defer serveDebug(dln).Close()
		log.Info("gtc serve: profiler on", "addr", dln.Addr().String())
	}
	p := pipeline.New(st, pb)
	p.Log, p.Lease, p.OnReport, p.Limiter = log, cfg.lease, metrics.Observe, limiter
	var srv *server.Server
	if cfg.sandbox || cfg.devConsole {
		w.console = w.newConsole(p, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { srv.Handler().ServeHTTP(rw, r) }))
		p.Offset = w.console.Offset
		p.OnReport = func(r *pipeline.Report) {
			metrics.Observe(r)
			w.console.Observe(r)
		}
	}
	opts := server.Options{Pipeline: p, Store: st, Log: log, Metrics: metrics, RecordDir: cfg.record,
		InsecureSkipSignature: cfg.insecure, Channels: channels.Names()}
	if w.console != nil {
		opts.DevConsole = w.console
	}
	srv = server.New(opts)
	srv.Swap(site)
	if cfg.insecure {
		log.Warn("SIGNATURE CHECKS ARE OFF (--insecure-skip-signature): anyone who can reach this server can post events as any user")
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	if w.console != nil {
		hs.RegisterOnShutdown(w.console.Close) // an open page's stream would hold up the stop
	}
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
	if w.console != nil {
		if cfg.devConsole && !cfg.sandbox {
			log.Warn("the dev console is on (--dev-console): anyone who can open /dev/ can post events as any user; never expose it")
		}
		fmt.Fprintf(stderr, "\n  Flowgate dev console: %s\n\n", consoleURL(ln.Addr()))
	}

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

// connectRedis connects to the Redis server or cluster of cfg (checked by parseServe), checks
// that it can serve (every master answers, every slot of a cluster is assigned, the scripts
// load on every node) and returns the store over it.
func connectRedis(cfg *serveConfig) (*store.Redis, error) {
	var c redis.UniversalClient
	if cfg.cluster != "" {
		opts, err := clusterOptions(cfg.cluster)
		if err != nil {
			return nil, err
		}
		c = redis.NewClusterClient(opts)
	} else {
		opts, err := redis.ParseURL(cfg.redisURL)
		if err != nil {
			return nil, err
		}
		// The store's scripts are not idempotent: it retries where it knows what a retry
		// means, never the client.
		opts.MaxRetries = -1
		c = redis.NewClient(opts)
	}
	st := store.NewRedis(c, store.Options{Prefix: cfg.prefix})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := st.Ping(ctx)
	if cc, ok := c.(*redis.ClusterClient); ok && err == nil {
		err = clusterOK(ctx, cc)
	} else if err == nil {
		err = notClusterNode(ctx, c)
	}
	if err == nil {
		err = st.LoadScripts(ctx)
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return st, nil
}

// clusterOptions reads --redis-cluster: seed nodes host:port,host:port,..., or one redis://
// URL (password, TLS with rediss://) whose ?addr= parameters name more seeds.
func clusterOptions(s string) (*redis.ClusterOptions, error) {
	var opts *redis.ClusterOptions
	if strings.Contains(s, "://") {
		var err error
		if opts, err = redis.ParseClusterURL(s); err != nil {
			return nil, fmt.Errorf("--redis-cluster %s: not a Redis Cluster URL (redis://[:password@]host:port?addr=host:port)", redactURL(s))
		}
	} else {
		opts = &redis.ClusterOptions{}
		for _, a := range strings.Split(s, ",") {
			if _, _, err := net.SplitHostPort(strings.TrimSpace(a)); err != nil {
				return nil, fmt.Errorf("--redis-cluster %q: %q is not host:port", s, a)
			}
			opts.Addrs = append(opts.Addrs, strings.TrimSpace(a))
		}
	}
	// As for one server, the node clients never retry. The cluster client still follows
	// redirections (MOVED, ASK) and, after a master failed over, finds the new one: that
	// loop may send a script again when its connection broke before the answer came, which
	// the scripts bear (a commit, extend or ack applied twice has the effect of once, a
	// repeated enqueue finds its dedup keys, a repeated claim leaves a lease to expire).
	opts.MaxRetries = -1
	return opts, nil
}

func redisURLErr(s string) error {
	_, err := redis.ParseURL(s)
	return err
}

func clusterOptionsErr(s string) error {
	_, err := clusterOptions(s)
	return err
}

// clusterOK checks that the cluster serves every slot.
func clusterOK(ctx context.Context, c *redis.ClusterClient) error {
	info, err := c.ClusterInfo(ctx).Result()
	if err != nil {
		return err
	}
	if !strings.Contains(info, "cluster_state:ok") {
		return errors.New("cluster_state is not ok (slots unassigned or nodes failing: redis-cli --cluster check)")
	}
	return nil
}

// notClusterNode refuses a --redis server that is a node of a Redis Cluster: through it the
// store would reach only the shards whose slots that node holds. A server that does not answer
// INFO (a managed Redis may rename it) is taken as it is.
func notClusterNode(ctx context.Context, c redis.UniversalClient) error {
	info, err := c.Info(ctx, "cluster").Result()
	if err == nil && strings.Contains(info, "cluster_enabled:1") {
		return errors.New("it is a node of a Redis Cluster: name the cluster's nodes with --redis-cluster instead")
	}
	return nil
}

func storeName(cfg *serveConfig) string {
	switch {
	case cfg.cluster != "" && strings.Contains(cfg.cluster, "://"):
		return "cluster " + redactURL(cfg.cluster)
	case cfg.cluster != "":
		return "cluster " + cfg.cluster
	case cfg.redisURL == "":
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

// serveDebug serves the Go profiler's handlers on ln, apart from the webhook listener.
func serveDebug(ln net.Listener) *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	return hs
}
