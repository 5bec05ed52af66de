package engine

import (
	"encoding/json"
	"time"
)

func init() {
	registerNode(nodeSpec[HTTPConfig]{Name: "http", SchemaDef: "httpConfig", Schema: httpSchema, Compile: compileHTTP})
}

// HTTPConfig is the config of an http node.
type HTTPConfig struct {
	Method  string            `yaml:"method"`
	URL     string            `yaml:"url"`
	Headers map[string]string `yaml:"headers"`
	Body    any               `yaml:"body"`
	Timeout time.Duration     `yaml:"timeout"`
	SaveAs  string            `yaml:"save_as"`
	OnError string            `yaml:"on_error"`
}

// httpStep calls an external service through the host's HTTPClient.
type httpStep struct {
	cfg     *HTTPConfig
	url     text
	headers map[string]text
	body    any // the body with its strings compiled to text
	onError *Node
	next    *Node
}

func compileHTTP(nc *nodeCompiler, hc *HTTPConfig) step {
	s := &httpStep{cfg: hc, next: nc.next, onError: nc.ref(hc.OnError, "on_error")}
	s.url = nc.text(hc.URL, "url")
	for k, v := range hc.Headers {
		if s.headers == nil {
			s.headers = map[string]text{}
		}
		s.headers[k] = nc.text(v, "headers", k)
	}
	if hc.Body != nil {
		s.body = compileValue(nc.cc, hc.Body, valueAt(nc.cfg, "body"), nc.what+": body")
	}
	return s
}

func (s *httpStep) exec(r *run, n *Node) *Node {
	req := &HTTPRequest{Method: s.cfg.Method, URL: r.render(s.url), Timeout: s.cfg.Timeout}
	if req.Method == "" {
		req.Method = "GET"
	}
	if req.Timeout == 0 {
		req.Timeout = 5 * time.Second
	}
	if len(s.headers) > 0 {
		req.Headers = make(map[string]string, len(s.headers))
		for k, t := range s.headers {
			req.Headers[k] = r.render(t)
		}
	}
	if s.body != nil {
		b, err := json.Marshal(r.renderValue(s.body))
		if err != nil {
			r.tracef(TraceError, r.nodeID(), "http body: %v", err)
			return s.onError
		}
		req.Body = b
	}
	if r.e.http == nil {
		r.tracef(TraceError, r.nodeID(), "http %s %s: no HTTP client configured", req.Method, req.URL)
		return s.onError
	}
	resp, err := r.e.http.Do(r.ctx, req)
	if err != nil {
		r.tracef(TraceError, r.nodeID(), "http %s %s: %v", req.Method, req.URL, err)
		return s.onError
	}
	r.tracef(TraceHTTP, r.nodeID(), "%s %s: %d", req.Method, req.URL, resp.Status)
	if s.cfg.SaveAs != "" {
		r.setVar(s.cfg.SaveAs, map[string]any{"status": resp.Status, "body": resp.Body})
	}
	if resp.Status < 200 || resp.Status > 299 {
		r.tracef(TraceError, r.nodeID(), "http %s %s: status %d", req.Method, req.URL, resp.Status)
		return s.onError
	}
	return s.next
}

func (s *httpStep) edges(add func(*Node, string)) {
	add(s.next, "")
	add(s.onError, "error")
}

const httpSchema = `{
  "type": "object",
  "description": "Config of an http node: calls an external service and stores {status, body} in vars.<save_as>.",
  "additionalProperties": false,
  "required": [
    "url"
  ],
  "properties": {
    "method": {
      "enum": [
        "GET",
        "POST",
        "PUT",
        "PATCH",
        "DELETE"
      ],
      "default": "GET",
      "description": "HTTP method."
    },
    "url": {
      "type": "string",
      "description": "Request URL. Interpolated.",
      "minLength": 1
    },
    "headers": {
      "type": "object",
      "description": "Request headers. Values are interpolated.",
      "additionalProperties": {
        "type": "string",
        "description": "Header value."
      }
    },
    "body": {
      "description": "Request body, sent as JSON. Every string inside it is interpolated."
    },
    "timeout": {
      "$ref": "#/$defs/duration",
      "description": "Request timeout.",
      "default": "5s"
    },
    "save_as": {
      "$ref": "#/$defs/varName",
      "description": "Variable that receives {status: int, body: decoded JSON}."
    },
    "on_error": {
      "$ref": "#/$defs/nodeRef",
      "description": "Node to continue at when the request fails: network error, timeout or a status other than 2xx. Without it the run ends with an error in the trace."
    }
  }
}`
