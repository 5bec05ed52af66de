package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
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
	places  []urlPlace // where in the URL each of url's parts lands
	headers map[string]text
	body    any // the body with its strings compiled to text
	onError *Node
	next    *Node
}

func compileHTTP(nc *nodeCompiler, hc *HTTPConfig) step {
	s := &httpStep{cfg: hc, next: nc.next, onError: nc.ref(hc.OnError, "on_error")}
	s.url = nc.text(hc.URL, "url")
	s.places = urlPlaces(nc, s.url)
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
	r.valueCut = false
	u, err := s.renderURL(r)
	if err != nil {
		r.tracef(TraceError, r.nodeID(), "http url: %v", err)
		return s.onError
	}
	req := &HTTPRequest{Method: s.cfg.Method, URL: u, Timeout: s.cfg.Timeout}
	if req.Method == "" {
		req.Method = "GET"
	}
	if req.Timeout == 0 {
		req.Timeout = 5 * time.Second
	}
	if len(s.headers) > 0 {
		req.Headers = make(map[string]string, len(s.headers))
		for k, t := range s.headers {
			v := r.render(t)
			if i := strings.IndexFunc(v, isHeaderControl); i >= 0 {
				r.tracef(TraceError, r.nodeID(), "http header %s: the value has the control character %q at byte %d", k, v[i], i)
				return s.onError
			}
			req.Headers[k] = v
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
	if r.valueCut {
		r.tracef(TraceError, r.nodeID(), "http %s %s not sent: a value was longer than limits.value_length", req.Method, RedactURL(req.URL))
		return s.onError
	}
	if r.budget.over != "" {
		return nil
	}
	if r.e.http == nil {
		r.tracef(TraceError, r.nodeID(), "http %s %s: no HTTP client configured", req.Method, RedactURL(req.URL))
		return s.onError
	}
	resp, err := r.e.http.Do(r.ctx, req)
	if ue := (*url.Error)(nil); errors.As(err, &ue) {
		err = ue.Err // without the URL it repeats whole, query string included
	}
	if err != nil {
		r.tracef(TraceError, r.nodeID(), "http %s %s: %v", req.Method, RedactURL(req.URL), err)
		return s.onError
	}
	r.tracef(TraceHTTP, r.nodeID(), "%s %s: %d", req.Method, RedactURL(req.URL), resp.Status)
	if s.cfg.SaveAs != "" && !r.setVar(s.cfg.SaveAs, map[string]any{"status": resp.Status, "body": resp.Body}) {
		return s.onError // a response beyond the variable limits fails the call
	}
	if resp.Status < 200 || resp.Status > 299 {
		r.tracef(TraceError, r.nodeID(), "http %s %s: status %d", req.Method, RedactURL(req.URL), resp.Status)
		return s.onError
	}
	return s.next
}

// urlPlace is where in a URL an interpolation lands, which decides how its value is escaped.
type urlPlace uint8

const (
	placeHost     urlPlace = iota // scheme, user info, host or port: not allowed
	placePath                     // path-escaped
	placeQuery                    // query-escaped
	placeFragment                 // path-escaped
)

// urlPlaces finds where each interpolation of an http node's URL lands, from the literal text
// before it; one in the scheme or host (the authority) is an error at its position, since a
// value there could send the request, with the flow's headers, to another host. Literal parts
// get placeHost, which renderURL ignores. Only the first such error of a URL is reported: the
// places after it are unknown.
func urlPlaces(nc *nodeCompiler, t text) []urlPlace {
	places := make([]urlPlace, len(t.parts))
	var before strings.Builder // the literal text before the current part
	for i, p := range t.parts {
		if p.literal() {
			before.WriteString(p.lit)
			continue
		}
		places[i] = urlPlaceAfter(before.String())
		if places[i] == placeHost {
			nc.d.errorf(nc.cc.scalarPos(valueAt(nc.cfg, "url"), p.off),
				"%s: url: {{ %s }} is in the scheme or host; only the path, query and fragment may be interpolated",
				nc.what, p.src)
			return places
		}
	}
	return places
}

// urlPlaceAfter is the place of a value that follows the URL text prefix. Values rendered
// before it cannot move it: they are escaped for their own place.
func urlPlaceAfter(prefix string) urlPlace {
	i := strings.Index(prefix, "://")
	if i < 0 {
		return placeHost
	}
	rest := prefix[i+len("://"):]
	j := strings.IndexAny(rest, "/?#")
	if j < 0 {
		return placeHost
	}
	switch rest = rest[j:]; {
	case strings.Contains(rest, "#"):
		return placeFragment
	case strings.Contains(rest, "?"):
		return placeQuery
	default:
		return placePath
	}
}

// renderURL interpolates the URL, escaping each value for where it lands: a value can then
// neither leave its path segment (a slash becomes %2F) nor its query parameter (& and = are
// escaped). A value in the path that is a dot segment, . or .., is refused: servers and
// proxies resolve it against the path before it.
func (s *httpStep) renderURL(r *run) (string, error) {
	var b strings.Builder
	b.Grow(len(s.url.raw) + 32)
	for i, p := range s.url.parts {
		if p.literal() {
			b.WriteString(p.lit)
			continue
		}
		v := r.partValue(p)
		if raw, ok := v.(rawURLValue); ok {
			b.WriteString(r.capValue(p.src, string(raw)))
			continue
		}
		text := r.capValue(p.src, format(v))
		switch s.places[i] {
		case placePath:
			segs := []string{text}
			if _, ok := v.(urlPathValue); ok {
				segs = strings.Split(text, "/")
			}
			for j, seg := range segs {
				if seg == "." || seg == ".." {
					return "", fmt.Errorf("{{ %s }} is %q, a dot segment that would change the path", p.src, text)
				}
				if j > 0 {
					b.WriteByte('/')
				}
				b.WriteString(url.PathEscape(seg))
			}
		case placeQuery:
			b.WriteString(url.QueryEscape(text))
		case placeFragment:
			b.WriteString(url.PathEscape(text))
		default:
			return "", fmt.Errorf("{{ %s }} is in the scheme or host", p.src)
		}
	}
	return b.String(), nil
}

// RedactURL is u as traces show it: without user info, with each query parameter's value
// replaced by … (query strings carry API keys) and without the fragment.
func RedactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(an unparseable URL)"
	}
	p.User, p.Fragment, p.RawFragment = nil, "", ""
	if p.RawQuery != "" {
		params := strings.Split(p.RawQuery, "&")
		for i, kv := range params {
			k, _, _ := strings.Cut(kv, "=")
			params[i] = k + "=…"
		}
		p.RawQuery = strings.Join(params, "&")
	}
	return p.String()
}

// isHeaderControl reports whether r may not appear in a header value: a control character
// other than tab, above all CR and LF, which would end the header and start another.
func isHeaderControl(r rune) bool {
	return r < 0x20 && r != '\t' || r == 0x7f
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
      "description": "Request URL. Interpolated: a value in the path is path-escaped, one in the query query-escaped; the scheme and host may not be interpolated.",
      "minLength": 1
    },
    "headers": {
      "type": "object",
      "description": "Request headers. Values are interpolated; a value with a control character (such as a line break) fails the node.",
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
