package engine

import (
	"encoding/json"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/flowgate/flowgate/engine/msg"
)

// step is a node's compiled config: what the node does when a run reaches it. It returns the
// node to continue at, or nil when the run ends or waits (the step then says so on r).
type step interface {
	exec(r *run, n *Node) *Node
}

// replyStep sends one message, subject to the window policy.
type replyStep struct {
	cfg            *ReplyConfig
	texts          []text
	fallback       *fallback
	onWindowClosed *Node
	next           *Node
}

// fallback is a compiled template sent in place of a free-form message when the window is closed.
type fallback struct {
	cfg   *TemplateConfig
	texts []text
}

func (s *replyStep) exec(r *run, n *Node) *Node {
	m := buildReply(s.cfg, r.strs(s.texts))
	if s.cfg.RetryOnRateLimit != nil && !*s.cfg.RetryOnRateLimit {
		m.NoRetryOnRateLimit = true
	}
	if !r.send(n, m, s.cfg.Tag, s.fallback) && s.onWindowClosed != nil {
		return s.onWindowClosed
	}
	return s.next
}

// branchStep picks the first condition that holds.
type branchStep struct {
	srcs  []string // the conditions as written, for graphs
	conds []*vm.Program
	nexts []*Node
	def   *Node
}

func (s *branchStep) exec(r *run, n *Node) *Node {
	for i, c := range s.conds {
		if r.evalBool(c, r.nodeID()) {
			return s.nexts[i]
		}
	}
	return s.def
}

// setStep assigns variables, in the order written.
type setStep struct {
	names []string
	progs []*vm.Program
	next  *Node
}

func (s *setStep) exec(r *run, n *Node) *Node {
	for i, p := range s.progs {
		v, err := r.vm.Run(p, &r.env)
		if err != nil {
			r.tracef(TraceError, r.nodeID(), "set %s: %v", s.names[i], err)
			continue
		}
		r.setVar(s.names[i], v)
	}
	return s.next
}

// inputStep waits for the user's next event and stores it.
type inputStep struct {
	cfg       *InputConfig
	validate  *vm.Program
	retry     text
	onTimeout *Node
	onInvalid *Node
	next      *Node
}

func (s *inputStep) exec(r *run, n *Node) *Node {
	r.st.Flow, r.st.Node = n.flow.Name, n.ID
	r.st.Attempts = 0
	r.st.Timeout = 0
	if s.cfg.Timeout > 0 {
		r.st.Timeout = r.now.Add(s.cfg.Timeout).Unix()
	}
	r.tracef(TraceWait, r.nodeID(), "waiting for %s", s.cfg.SaveAs)
	return nil
}

// resume handles the answer to a waiting input node.
func (s *inputStep) resume(r *run, n *Node) *Node {
	if s.validate != nil && !r.evalBool(s.validate, r.nodeID()) {
		r.st.Attempts++
		max := s.cfg.MaxAttempts
		if max == 0 {
			max = 3
		}
		r.tracef(TraceInvalid, r.nodeID(), "attempt %d of %d: %q", r.st.Attempts, max, r.env.Input)
		if r.st.Attempts < max {
			if s.retry.raw != "" {
				r.send(n, msg.Message{Text: &msg.Text{Body: r.render(s.retry)}}, "", nil)
			}
			return nil // keep waiting
		}
		r.clearWait()
		return s.onInvalid
	}
	r.clearWait()
	r.tracef(TraceResume, r.nodeID(), "%s = %q", s.cfg.SaveAs, r.env.Input)
	r.setVar(s.cfg.SaveAs, r.env.Input)
	return s.next
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

// handoffStep hands the conversation to a human agent.
type handoffStep struct {
	cfg     *HandoffConfig
	message text
}

func (s *handoffStep) exec(r *run, n *Node) *Node {
	if s.message.raw != "" {
		r.send(n, msg.Message{Text: &msg.Text{Body: r.render(s.message)}}, "", nil)
	}
	r.st.Handoff = s.cfg.Queue
	r.clearWait()
	r.tracef(TraceHandoff, r.nodeID(), "queue %s", s.cfg.Queue)
	return nil
}

// gotoStep continues in another flow.
type gotoStep struct{ target *Node }

func (s *gotoStep) exec(r *run, n *Node) *Node { return s.target }

// endStep ends the run.
type endStep struct{}

func (endStep) exec(r *run, n *Node) *Node { return nil }

// templateStep sends a template (the template node type).
type templateStep struct {
	fb   fallback
	next *Node
}

func (s *templateStep) exec(r *run, n *Node) *Node {
	m := msg.Message{Template: buildTemplate(s.fb.cfg, r.strs(s.fb.texts))}
	r.send(n, m, "", nil)
	return s.next
}
