package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/flowgate/flowgate/pipeline"
	"github.com/flowgate/flowgate/providers/channel"
)

// MaxWebhookBody is the largest webhook body accepted; larger ones are answered 413 unread.
const MaxWebhookBody = 4 << 20

// acceptTimeout bounds how long queueing one webhook's events may take before the request
// is answered 503 (and Meta retries).
const acceptTimeout = 10 * time.Second

// webhookEndpoint resolves a webhook path to its endpoint. label is the channel as a metric
// label: the channel, or "unknown" for a name the server has no routes for.
func (s *Server) webhookEndpoint(c *gin.Context) (ep *Endpoint, label string) {
	name := c.Param("channel")
	st := s.site.Load()
	if !s.knownChannel(st, name) {
		return nil, "unknown"
	}
	if st == nil {
		return nil, name
	}
	tenant, team := c.Param("tenant"), c.Param("team")
	if tenant == "" {
		tenant, team = st.DefaultTenant, st.DefaultTeam
	}
	return st.endpoint(name, tenant, team), name
}

// verify answers Meta's verification handshake: 200 with hub.challenge as plain text when
// hub.mode is subscribe and hub.verify_token is the endpoint's verify token, else 403.
func (s *Server) verify(c *gin.Context) {
	ep, _ := s.webhookEndpoint(c)
	if ep == nil {
		c.String(http.StatusNotFound, "no webhook at this address")
		return
	}
	ch := ep.Channel
	challenge, ok := ep.Webhook.Verify(c.Request.URL.Query(), ep.VerifyToken.Reveal())
	if !ok {
		s.log.Warn("webhook verification refused: wrong mode, token or no challenge",
			"channel", ch.Name, "tenant", ch.Tenant, "team", ch.Team, "remote", c.ClientIP())
		c.String(http.StatusForbidden, "verification failed")
		return
	}
	s.log.Info("webhook verified", "channel", ch.Name, "tenant", ch.Tenant, "team", ch.Team)
	c.Header("X-Content-Type-Options", "nosniff")
	c.Data(http.StatusOK, "text/plain; charset=utf-8", []byte(challenge))
}

// receive accepts a webhook delivery: size cap, signature over the raw bytes, then the
// events are deduplicated and queued, and only then answered 200.
func (s *Server) receive(c *gin.Context) {
	var recName string
	if s.rec != nil {
		recName = s.rec.name(time.Now()) // named at arrival, so that the files sort in arrival order
	}
	ep, label := s.webhookEndpoint(c)
	if ep == nil {
		s.metrics.webhook(label, resultNotFound)
		c.String(http.StatusNotFound, "no webhook at this address")
		return
	}
	ch := ep.Channel
	log := s.log.With("channel", ch.Name, "tenant", ch.Tenant, "team", ch.Team)

	body, status := readBody(c)
	switch status {
	case http.StatusOK:
	case http.StatusRequestEntityTooLarge:
		s.metrics.webhook(ch.Name, resultTooLarge)
		log.Warn("webhook refused: body over the size limit", "limit", MaxWebhookBody, "remote", c.ClientIP())
		c.String(status, "body too large")
		return
	default:
		s.metrics.webhook(ch.Name, resultBadRequest)
		log.Info("webhook body could not be read", "remote", c.ClientIP())
		c.String(status, "body could not be read")
		return
	}

	if !s.opts.InsecureSkipSignature {
		if err := ep.Webhook.Authenticate(c.Request.Header, body, ep.AppSecret.Reveal()); err != nil {
			s.metrics.webhook(ch.Name, resultBadSignature)
			level := slog.LevelWarn
			if errors.Is(err, channel.ErrNoAppSecret) {
				level = slog.LevelError // a configuration problem, not a bad request
			}
			log.Log(c.Request.Context(), level, "webhook refused: bad signature", "err", err, "remote", c.ClientIP())
			c.String(http.StatusUnauthorized, "invalid signature")
			return
		}
	}

	// Once the body is read, queueing finishes even if Meta hangs up: a half-done write would
	// only be redone by the retry.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), acceptTimeout)
	defer cancel()
	acc, err := s.opts.Pipeline.Accept(ctx, ch, body)
	switch {
	case errors.Is(err, channel.ErrTooManyEvents):
		s.metrics.webhook(ch.Name, resultTooManyEvents)
		log.Warn("webhook refused: more events than one webhook carries", "limit", channel.MaxEventsPerBody, "err", err)
		c.String(http.StatusRequestEntityTooLarge, "too many events in one body")
		return
	case errors.Is(err, pipeline.ErrParse):
		s.metrics.webhook(ch.Name, resultBadRequest)
		log.Warn("webhook refused: unparseable body", "bytes", len(body), "err", err)
		c.String(http.StatusBadRequest, "unparseable webhook body")
		return
	case err != nil:
		s.metrics.webhook(ch.Name, resultUnavailable)
		log.Error("webhook not queued: answering 503 so that it is delivered again", "err", err)
		c.String(http.StatusServiceUnavailable, "events could not be queued; retry later")
		return
	}
	s.metrics.webhook(ch.Name, resultOK)
	s.metrics.droppedEvents(ch.Name, resultDuplicate, acc.Duplicates)
	s.metrics.droppedEvents(ch.Name, resultForeignAccount, acc.Foreign)
	s.metrics.droppedEvents(ch.Name, resultRouted, acc.Routed)
	s.metrics.droppedEvents(ch.Name, resultStale, acc.Stale)
	s.metrics.droppedEvents(ch.Name, resultGroup, acc.Groups)
	if acc.Duplicates > 0 {
		log.Debug("duplicate events dropped", "queued", acc.Queued, "duplicates", acc.Duplicates)
	}
	if s.rec != nil {
		if err := s.rec.write(ch.Name, recName, body); err != nil {
			s.metrics.recordFailed()
			log.Error("accepted webhook not recorded", "err", err)
		}
	}
	c.String(http.StatusOK, "ok")
}

// readBody reads a request body of at most MaxWebhookBody bytes. The status is 200 when it
// was read, 413 when it is too large, 400 when it could not be read.
func readBody(c *gin.Context) ([]byte, int) {
	if c.Request.ContentLength > MaxWebhookBody {
		return nil, http.StatusRequestEntityTooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, MaxWebhookBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, http.StatusRequestEntityTooLarge
		}
		return nil, http.StatusBadRequest
	}
	return body, http.StatusOK
}
