package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/flowgate/flowgate/engine"
)

// maxHTTPBody bounds what an http node reads of a response.
const maxHTTPBody = 1 << 20

// HTTPClient performs the requests of http nodes over the network. The zero value uses
// http.DefaultClient.
type HTTPClient struct {
	Client *http.Client
}

var _ engine.HTTPClient = HTTPClient{}

// Do sends the request within its timeout and decodes a JSON response body; a body that is not
// JSON is kept as a string.
func (c HTTPClient) Do(ctx context.Context, r *engine.HTTPRequest) (*engine.HTTPResponse, error) {
	if r.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.Timeout)
		defer cancel()
	}
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, body)
	if err != nil {
		return nil, fmt.Errorf("http node request: %w", err)
	}
	if r.Body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	for k, v := range r.Headers {
		req.Header.Set(k, v)
	}
	hc := c.Client
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxHTTPBody))
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	return &engine.HTTPResponse{Status: resp.StatusCode, Body: DecodeBody(data)}, nil
}

// DecodeBody decodes a JSON body, or keeps it as a string when it is not JSON.
func DecodeBody(data []byte) any {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return string(data)
	}
	return v
}
