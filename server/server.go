// Package server is the HTTP layer of gtc serve: Meta's webhooks (verification handshake and
// signed event deliveries), the admin API that starts flows, sends agents' replies and lists
// handoffs, health and readiness probes, and Prometheus metrics.
//
// What it serves (the channel accounts and their secrets, the admin token) is a Site, which a
// bundle reload replaces whole with Swap; each request runs on the Site it started with.
package server

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"slices"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/flowgate/flowgate/internal/secret"
	"github.com/flowgate/flowgate/pipeline"
	"github.com/flowgate/flowgate/store"
)

// readyTimeout bounds the store ping of /readyz.
const readyTimeout = time.Second

// Options configure a Server.
type Options struct {
	// Pipeline accepts webhooks and runs the admin API's calls.
	Pipeline *pipeline.Pipeline
	// Store is pinged by /readyz.
	Store store.Store
	// Log receives the server's logs; nil uses slog.Default().
	Log *slog.Logger
	// Metrics counts requests and serves /metrics; nil registers a new set in a registry of
	// the server's own.
	Metrics *Metrics
	// RecordDir, when set, receives the raw body of every accepted webhook, one file each,
	// under a directory per channel, so that flowctl test can replay them.
	RecordDir string
	// InsecureSkipSignature accepts webhooks without checking their signature. For local
	// experiments only: anyone who can reach the server can then inject events.
	InsecureSkipSignature bool
	// Channels names the channels the webhook routes answer for (the registry's); a request
	// for another name is a 404 counted under the channel "unknown", so that metric labels
	// stay few. Nil: the channels of the served endpoints.
	Channels []string
	// DevConsole, when set, is served under /dev/ (package devconsole). It lets anyone who
	// can open it post events as any user, so gtc serve sets it only in sandbox mode or when
	// asked with --dev-console.
	DevConsole http.Handler
}

// Site is what the server serves, from one loaded bundle.
type Site struct {
	// DefaultTenant and DefaultTeam serve the webhook paths without tenant and team.
	DefaultTenant, DefaultTeam string
	// APIToken is the admin API's bearer token; empty disables the admin API.
	APIToken secret.String
	// Endpoints are the channel accounts, at most one per channel, tenant and team.
	Endpoints []Endpoint
}

// Endpoint is one channel account's webhook: where its events go, how the channel
// authenticates its requests, and the secrets it does that with.
type Endpoint struct {
	Channel *pipeline.Channel
	// Webhook answers the channel's verification handshake and checks its signatures (the
	// channel's provider).
	Webhook Webhook
	// AppSecret signs the webhook bodies (X-Hub-Signature-256).
	AppSecret secret.String
	// VerifyToken answers the verification handshake.
	VerifyToken secret.String
}

// Webhook is the channel-specific side of a webhook endpoint; a channel.Provider is one.
type Webhook interface {
	// Verify answers the verification handshake: the challenge to echo, and whether the query
	// carries the verify token.
	Verify(q url.Values, verifyToken string) (challenge string, ok bool)
	// Authenticate checks a delivery's signature over the raw body; its error wraps
	// channel.ErrBadSignature or channel.ErrNoAppSecret.
	Authenticate(h http.Header, body []byte, appSecret string) error
}

// Server serves webhooks, the admin API, probes and metrics.
type Server struct {
	opts    Options
	log     *slog.Logger
	metrics *Metrics
	site    atomic.Pointer[site]
	rec     *recorder
	engine  *gin.Engine
}

// site is a Site indexed for lookups.
type site struct {
	*Site
	endpoints map[endpointKey]*Endpoint
	teams     map[[2]string]bool // tenant, team pairs with at least one endpoint
}

type endpointKey struct{ channel, tenant, team string }

// New returns a Server serving nothing until Swap gives it a Site.
func New(opts Options) *Server {
	s := &Server{opts: opts, log: opts.Log, metrics: opts.Metrics}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.metrics == nil {
		s.metrics = NewMetrics(nil, opts.Store)
	}
	if opts.RecordDir != "" {
		s.rec = newRecorder(opts.RecordDir)
	}
	if opts.InsecureSkipSignature {
		s.log.Warn("webhook signatures are NOT checked (--insecure-skip-signature): anyone who can reach this server can inject events; never use this in production")
	}
	s.engine = s.routes()
	return s
}

// Swap replaces what is served; requests in flight finish on the Site they started with. A
// nil site serves nothing (webhooks 404, /readyz 503).
func (s *Server) Swap(st *Site) {
	if st == nil {
		s.site.Store(nil)
		return
	}
	own := *st // the caller's later changes to its Site must not reach requests
	own.Endpoints = slices.Clone(st.Endpoints)
	ix := &site{Site: &own, endpoints: make(map[endpointKey]*Endpoint, len(own.Endpoints)), teams: map[[2]string]bool{}}
	for i := range own.Endpoints {
		ep := &own.Endpoints[i]
		if ep.Channel == nil || ep.Webhook == nil {
			s.log.Warn("an endpoint without a channel or a webhook check is not served")
			continue
		}
		k := endpointKey{ep.Channel.Name, ep.Channel.Tenant, ep.Channel.Team}
		if _, dup := ix.endpoints[k]; dup {
			s.log.Warn("two accounts for one webhook: the second is not served", "channel", k.channel, "tenant", k.tenant, "team", k.team, "account", ep.Channel.Account)
			continue
		}
		ix.endpoints[k] = ep
		ix.teams[[2]string{k.tenant, k.team}] = true
	}
	s.site.Store(ix)
}

// Handler returns the HTTP handler serving every route.
func (s *Server) Handler() http.Handler { return s.engine }

// Metrics returns the server's metrics (the ones given in Options, or its own).
func (s *Server) Metrics() *Metrics { return s.metrics }

// endpoint finds the endpoint of channel, tenant and team, or nil.
func (st *site) endpoint(channel, tenant, team string) *Endpoint {
	if st == nil {
		return nil
	}
	return st.endpoints[endpointKey{channel, tenant, team}]
}

// knownChannel reports whether name is a channel the server has routes for: one of
// Options.Channels, or without them one the site serves. Other names are never used as metric
// labels.
func (s *Server) knownChannel(st *site, name string) bool {
	if s.opts.Channels != nil {
		return slices.Contains(s.opts.Channels, name)
	}
	if st == nil {
		return false
	}
	for k := range st.endpoints {
		if k.channel == name {
			return true
		}
	}
	return false
}

func (s *Server) routes() *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.HandleMethodNotAllowed = true
	// The client address logged is the connection's: X-Forwarded-For is anyone's to write.
	_ = e.SetTrustedProxies(nil)
	e.Use(s.accessLog, s.recovery)

	e.GET("/healthz", func(c *gin.Context) { c.String(http.StatusOK, "ok") })
	e.GET("/readyz", s.ready)
	metrics := s.metrics.Handler()
	e.GET("/metrics", gin.WrapH(metrics))

	for _, p := range []string{"/webhook/:channel", "/webhook/:channel/:tenant/:team"} {
		e.GET(p, s.verify)
		e.POST(p, s.receive)
	}

	api := e.Group("/api/v1", s.authenticate)
	api.GET("/:tenant/:team/handoffs", s.handoffs)
	conv := api.Group("/:tenant/:team/:channel/conversations/:user")
	conv.GET("", s.state)
	conv.POST("/start", s.start)
	conv.POST("/reply", s.reply)
	conv.POST("/release", s.release)

	if s.opts.DevConsole != nil {
		e.GET("/dev", func(c *gin.Context) { c.Redirect(http.StatusMovedPermanently, "/dev/") })
		e.Any("/dev/*path", gin.WrapH(s.opts.DevConsole))
	}
	return e
}

// ready answers 200 when a site is loaded and the store answers within readyTimeout.
func (s *Server) ready(c *gin.Context) {
	if s.site.Load() == nil {
		c.String(http.StatusServiceUnavailable, "not ready: no bundle loaded")
		return
	}
	if s.opts.Store == nil {
		c.String(http.StatusServiceUnavailable, "not ready: no store")
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), readyTimeout)
	defer cancel()
	if err := s.opts.Store.Ping(ctx); err != nil {
		s.log.Warn("not ready: store unreachable", "err", err)
		c.String(http.StatusServiceUnavailable, "not ready: store unreachable: "+err.Error())
		return
	}
	c.String(http.StatusOK, "ok")
}

// accessLog logs each request at debug level: the path only, never the query string, which
// carries the handshake's verify token.
func (s *Server) accessLog(c *gin.Context) {
	if !s.log.Enabled(c.Request.Context(), slog.LevelDebug) {
		c.Next()
		return
	}
	start := time.Now()
	c.Next()
	s.log.Debug("http request",
		"method", c.Request.Method,
		"path", c.Request.URL.Path,
		"status", c.Writer.Status(),
		"bytes", c.Writer.Size(),
		"duration", time.Since(start),
		"remote", c.ClientIP())
}

// recovery turns a handler's panic into a logged, counted 500.
func (s *Server) recovery(c *gin.Context) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if v == http.ErrAbortHandler { //nolint:errorlint // the sentinel is panicked as is
			panic(v)
		}
		s.metrics.panicked()
		s.log.Error("panic in HTTP handler", "method", c.Request.Method, "path", c.Request.URL.Path, "panic", v, "stack", string(debug.Stack()))
		if !c.Writer.Written() {
			c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": "internal error"})
			return
		}
		c.Abort()
	}()
	c.Next()
}
