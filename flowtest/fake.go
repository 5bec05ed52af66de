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

// Mocks answers http nodes from http_mocks, as a case's http_mocks do (flowctl chat --mocks
// too): the first entry with the request's method and exact URL that has uses left answers it.
// A request no entry answers fails like a network error; it never reaches the network.
type Mocks struct {
	mocks  []HTTPMock
	used   []int
	missed []string
}

// NewMocks returns the client that answers from mocks.
func NewMocks(mocks []HTTPMock) *Mocks {
	return &Mocks{mocks: mocks, used: make([]int, len(mocks))}
}

// Do answers one request.
func (h *Mocks) Do(_ context.Context, r *engine.HTTPRequest) (*engine.HTTPResponse, error) {
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
	req := r.Method + " " + engine.RedactURL(r.URL)
	h.missed = append(h.missed, req)
	return nil, fmt.Errorf("no http_mocks entry for %s", req)
}

// Used returns the entries that answered at least one request, in order: the mocks a case
// replaying the same requests needs (an entry never used would fail it).
func (h *Mocks) Used() []HTTPMock {
	var out []HTTPMock
	for i, m := range h.mocks {
		if h.used[i] > 0 {
			out = append(out, m)
		}
	}
	return out
}

// TakeMissed returns the requests no entry answered since the last call, as "METHOD URL" with
// the URL's query values hidden.
func (h *Mocks) TakeMissed() []string {
	m := h.missed
	h.missed = nil
	return m
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
