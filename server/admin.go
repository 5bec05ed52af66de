package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/pipeline"
)

// maxAPIBody bounds an admin API request body.
const maxAPIBody = 1 << 20

// apiTimeout bounds an admin API call: waiting for the conversation, running and sending.
const apiTimeout = time.Minute

// siteKey is the gin context key of the site a request authenticated against.
type siteKey struct{}

// errorBody is the admin API's error answer.
type errorBody struct {
	Error string `json:"error"`
}

func apiError(c *gin.Context, status int, format string, args ...any) {
	c.AbortWithStatusJSON(status, errorBody{Error: fmt.Sprintf(format, args...)})
}

// authenticate admits requests bearing the site's API token, compared in constant time.
func (s *Server) authenticate(c *gin.Context) {
	st := s.site.Load()
	switch {
	case st == nil:
		apiError(c, http.StatusServiceUnavailable, "no bundle loaded")
		return
	case st.APIToken.IsZero():
		apiError(c, http.StatusForbidden, "the admin API is disabled: set api.token in bundle.yaml")
		return
	}
	token, ok := bearer(c.GetHeader("Authorization"))
	if !ok || !st.APIToken.Equal(token) {
		s.log.Warn("admin API: missing or wrong bearer token", "method", c.Request.Method, "path", c.Request.URL.Path, "remote", c.ClientIP())
		c.Header("WWW-Authenticate", `Bearer realm="flowgate"`)
		apiError(c, http.StatusUnauthorized, "missing or wrong bearer token")
		return
	}
	c.Set(siteKey{}, st)
	c.Next()
}

// bearer extracts the token of an "Authorization: Bearer <token>" header.
func bearer(h string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// apiSite returns the site the request authenticated against.
func apiSite(c *gin.Context) *site {
	st, _ := c.Get(siteKey{})
	return st.(*site)
}

// apiEndpoint resolves the request's tenant, team and channel, answering 404 when the site
// has no such channel account.
func (s *Server) apiEndpoint(c *gin.Context) *Endpoint {
	tenant, team, channel := c.Param("tenant"), c.Param("team"), c.Param("channel")
	if ep := apiSite(c).endpoint(channel, tenant, team); ep != nil {
		return ep
	}
	apiError(c, http.StatusNotFound, "no %s account for %s/%s", channel, tenant, team)
	return nil
}

// apiContext is the context of an admin API call. It is not canceled when the client hangs
// up: a call that has claimed the conversation finishes (commits and records its sends)
// rather than leave them to a lease expiry.
func apiContext(c *gin.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(c.Request.Context()), apiTimeout)
}

// decodeBody reads a JSON body into v, answering 400 when it is missing or invalid.
func decodeBody(c *gin.Context, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(c.Writer, c.Request.Body, maxAPIBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			apiError(c, http.StatusBadRequest, "a JSON body is required")
		} else {
			apiError(c, http.StatusBadRequest, "invalid JSON body: %v", err)
		}
		return false
	}
	if dec.More() {
		apiError(c, http.StatusBadRequest, "invalid JSON body: more than one value")
		return false
	}
	return true
}

// startRequest is the body of .../start.
type startRequest struct {
	Flow string         `json:"flow"`
	Node string         `json:"node"`
	Vars map[string]any `json:"vars"`
}

// start runs a flow for a user.
func (s *Server) start(c *gin.Context) {
	ep := s.apiEndpoint(c)
	if ep == nil {
		return
	}
	var req startRequest
	if !decodeBody(c, &req) {
		return
	}
	if req.Flow == "" {
		apiError(c, http.StatusBadRequest, "flow is required")
		return
	}
	ctx, cancel := apiContext(c)
	defer cancel()
	rep, err := s.opts.Pipeline.Start(ctx, ep.Channel, c.Param("user"), req.Flow, req.Node, req.Vars)
	s.answer(c, "start", rep, err)
}

// replyRequest is the body of .../reply.
type replyRequest struct {
	Text       string `json:"text"`
	PreviewURL bool   `json:"preview_url"`
}

// reply sends a human agent's text to a user, under the window rules.
func (s *Server) reply(c *gin.Context) {
	ep := s.apiEndpoint(c)
	if ep == nil {
		return
	}
	var req replyRequest
	if !decodeBody(c, &req) {
		return
	}
	if strings.TrimSpace(req.Text) == "" {
		apiError(c, http.StatusBadRequest, "text is required")
		return
	}
	ctx, cancel := apiContext(c)
	defer cancel()
	m := msg.Message{Text: &msg.Text{Body: req.Text, PreviewURL: req.PreviewURL}}
	rep, err := s.opts.Pipeline.Reply(ctx, ep.Channel, c.Param("user"), m)
	s.answer(c, "reply", rep, err)
}

// release ends a user's handoff.
func (s *Server) release(c *gin.Context) {
	ep := s.apiEndpoint(c)
	if ep == nil {
		return
	}
	ctx, cancel := apiContext(c)
	defer cancel()
	rep, err := s.opts.Pipeline.Release(ctx, ep.Channel, c.Param("user"))
	s.answer(c, "release", rep, err)
}

// runAnswer is what a start, reply or release call did.
type runAnswer struct {
	Sent   []sentMessage `json:"sent"`
	Errors []string      `json:"errors"`
	Trace  []string      `json:"trace"`
}

// sentMessage is a message the channel accepted.
type sentMessage struct {
	Type string   `json:"type"`
	IDs  []string `json:"ids"`
	Node string   `json:"node,omitempty"` // flow/node that sent it; empty for an agent's message
}

// answer writes the outcome of a direct call: 200 with what went out, 409 when the
// conversation stayed busy, 503 when the store failed before anything was sent.
func (s *Server) answer(c *gin.Context, op string, rep *pipeline.Report, err error) {
	user := c.Param("user")
	channel := c.Param("channel")
	if err != nil {
		switch {
		case errors.Is(err, pipeline.ErrBusy):
			apiError(c, http.StatusConflict, "%s: the conversation is busy; try again", op)
			return
		case errors.Is(err, pipeline.ErrInvalid):
			apiError(c, http.StatusBadRequest, "%s: %v", op, err)
			return
		case rep == nil || !sentAny(rep):
			s.log.Error("admin API call failed", "op", op, "channel", channel, "user", user, "err", err)
			apiError(c, http.StatusServiceUnavailable, "%s: %v", op, err)
			return
		}
		// Messages went out; only recording them failed. Answering an error would invite a
		// retry that sends them again.
		s.log.Warn("admin API call: messages sent but not recorded", "op", op, "channel", channel, "user", user, "err", err)
	}
	out := runAnswer{Sent: []sentMessage{}, Errors: []string{}, Trace: []string{}}
	if rep == nil {
		rep = &pipeline.Report{}
	}
	for _, o := range rep.Outcomes {
		m := o.Send.Message
		node := ""
		if o.Send.Node != "" {
			node = o.Send.Flow + "/" + o.Send.Node
		}
		if o.Err != nil {
			e := fmt.Sprintf("%s message not sent: %v", m.Type(), o.Err)
			if node != "" {
				e = node + ": " + e
			}
			out.Errors = append(out.Errors, e)
			continue
		}
		out.Sent = append(out.Sent, sentMessage{Type: m.Type(), IDs: nonNil(o.IDs), Node: node})
	}
	if rep.Dropped != "" {
		out.Errors = append(out.Errors, "dropped: "+rep.Dropped)
	}
	if err != nil {
		out.Errors = append(out.Errors, err.Error())
	}
	for _, t := range rep.Trace {
		out.Trace = append(out.Trace, t.String())
	}
	c.JSON(http.StatusOK, out)
}

// sentAny reports whether any message of rep reached the channel.
func sentAny(rep *pipeline.Report) bool {
	for _, o := range rep.Outcomes {
		if o.Err == nil {
			return true
		}
	}
	return false
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
