package devconsole

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/flowgate/flowgate/providers/channel"
)

// Graph is an in-process fake of the Graph API's messages endpoint, for the sandbox: a sender
// given an http.Client with Graph as its Transport reaches no network. Every accepted request
// body is kept, by the id it was given and per recipient, and answered with the channel's own
// success shape (channel.Provider.Accepted). It is safe for concurrent use.
type Graph struct {
	provider channel.Provider

	mu     sync.Mutex
	seq    int
	bodies map[string][]byte   // request body by the message id it was given
	byUser map[string][][]byte // request bodies by recipient, in order
}

// NewGraph returns a fake Graph API answering as p's channel does.
func NewGraph(p channel.Provider) *Graph {
	return &Graph{provider: p, bodies: map[string][]byte{}, byUser: map[string][][]byte{}}
}

// RoundTrip answers a request as the Graph API would accept it.
func (g *Graph) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		var err error
		if body, err = io.ReadAll(r.Body); err != nil {
			return nil, fmt.Errorf("fake Graph API: read request: %w", err)
		}
		r.Body.Close()
	}
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/messages") {
		return graphResponse(r, http.StatusOK, []byte(`{"success":true}`)), nil
	}
	g.mu.Lock()
	g.seq++
	answer, id := g.provider.Accepted(body, fmt.Sprintf("sandbox.%d", g.seq))
	if id != "" {
		g.bodies[id] = body
		to := recipient(body)
		g.byUser[to] = append(g.byUser[to], body)
	}
	g.mu.Unlock()
	return graphResponse(r, http.StatusOK, answer), nil
}

// Body returns the request body of the message the fake gave id, or nil.
func (g *Graph) Body(id string) []byte {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.bodies[id]
}

// Messages returns the request bodies sent to user (a WhatsApp number, with or without its
// leading +), oldest first.
func (g *Graph) Messages(user string) [][]byte {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([][]byte(nil), g.byUser[strings.TrimPrefix(user, "+")]...)
}

// recipient reads the recipient of a request body: WhatsApp's to, or the Send API's
// recipient.id, without a leading +.
func recipient(body []byte) string {
	var req struct {
		To        string `json:"to"`
		Recipient struct {
			ID string `json:"id"`
		} `json:"recipient"`
	}
	_ = json.Unmarshal(body, &req)
	if req.To == "" {
		req.To = req.Recipient.ID
	}
	return strings.TrimPrefix(req.To, "+")
}

func graphResponse(r *http.Request, status int, body []byte) *http.Response {
	return &http.Response{
		StatusCode:    status,
		Status:        fmt.Sprintf("%d %s", status, http.StatusText(status)),
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(strings.NewReader(string(body))),
		ContentLength: int64(len(body)),
		Request:       r,
	}
}
