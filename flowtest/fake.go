package flowtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/flowgate/flowgate/engine"
	"github.com/flowgate/flowgate/providers/channel"
)

// clock is the virtual clock of a case. Sleeping moves it forward at once, so that the Graph
// client's backoff and pacing cost no real time.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d > 0 {
		c.t = c.t.Add(d)
	}
	return nil
}

// graphAPI is a fake Graph API, as an http.RoundTripper: it records every request body and
// answers the channel's success shape (the provider's Accepted), or the step's scripted errors
// in order, in Meta's error envelope.
type graphAPI struct {
	provider channel.Provider
	errors   []GraphMock
	bodies   map[string][]byte // accepted request bodies, by the id they were given
	seq      int               // messages accepted
}

func (g *graphAPI) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		var err error
		if body, err = io.ReadAll(r.Body); err != nil {
			return nil, err
		}
	}
	if !strings.HasSuffix(r.URL.Path, "/messages") || r.Method != http.MethodPost {
		return respond(r, http.StatusOK, `{"id":"fake"}`), nil
	}
	if len(g.errors) > 0 {
		e := g.errors[0]
		g.errors = g.errors[1:]
		status := e.Status
		if status == 0 {
			status = http.StatusBadRequest
		}
		msgText := e.Message
		if msgText == "" {
			msgText = fmt.Sprintf("(#%d) error", e.Code)
		}
		env := map[string]any{"error": map[string]any{
			"message": msgText, "type": "OAuthException", "code": e.Code, "error_subcode": e.Subcode,
			"error_data": map[string]any{"details": e.Details},
			"fbtrace_id": "AFakeTraceForFlowctlTest",
		}}
		b, _ := json.Marshal(env)
		return respond(r, status, string(b)), nil
	}
	answer, id := g.provider.Accepted(body, fmt.Sprintf("flowctl.%d", g.seq+1))
	if id != "" {
		g.seq++
		if g.bodies == nil {
			g.bodies = map[string][]byte{}
		}
		g.bodies[id] = body
	}
	return respond(r, http.StatusOK, string(answer)), nil
}

func respond(r *http.Request, status int, body string) *http.Response {
	return &http.Response{
		StatusCode: status,
		Status:     http.StatusText(status),
		Header:     http.Header{"Content-Type": {"application/json"}},
		Body:       io.NopCloser(strings.NewReader(body)),
		Request:    r,
	}
}

// httpMocks answers http nodes from the case's http_mocks and remembers which were used.
type httpMocks struct {
	mocks []HTTPMock
	used  []int
}

func (h *httpMocks) Do(_ context.Context, r *engine.HTTPRequest) (*engine.HTTPResponse, error) {
	for i := range h.mocks {
		m := &h.mocks[i]
		method := m.Method
		if method == "" {
			method = http.MethodGet
		}
		if !strings.EqualFold(method, r.Method) || m.URL != r.URL {
			continue
		}
		if m.Times > 0 && h.used[i] >= m.Times {
			continue
		}
		h.used[i]++
		if m.Error != "" {
			return nil, fmt.Errorf("%s", m.Error)
		}
		status := m.Status
		if status == 0 {
			status = http.StatusOK
		}
		return &engine.HTTPResponse{Status: status, Body: normalizeJSON(m.Body)}, nil
	}
	return nil, fmt.Errorf("no http_mocks entry for %s %s", r.Method, r.URL)
}

// normalizeJSON gives a mock body the types a real JSON response decodes to.
func normalizeJSON(v any) any {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	if json.NewDecoder(bytes.NewReader(b)).Decode(&out) != nil {
		return v
	}
	return out
}
