package flowtest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/flowgate/flowgate/engine"
	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/providers/channel"
)

// Options configure how cases run.
type Options struct {
	// Engine runs the bundle's flows; each case runs a copy whose HTTP client answers from the
	// case's http_mocks (engine.WithHTTP).
	Engine *engine.Engine
	// Channels are the channels a case may play (its channel: key); a case without one plays
	// the channel its first webhook parses on, else the first registered.
	Channels *channel.Registry
	Tenant   string
	Team     string
	DedupTTL time.Duration
}

// Result is the outcome of one case.
type Result struct {
	Case     *Case
	Steps    []StepResult
	Failures []string // problems outside any step (unused mocks, setup errors)
	Duration time.Duration
}

// StepResult is what one step did and, when it failed, why.
type StepResult struct {
	Index   int
	Desc    string
	sent    []Sent
	Trace   []engine.TraceEntry
	Errors  []string // sends that failed for good
	Failure string   // the diff or mismatch, empty when the step passed
	actual  []Expectation
}

// Passed reports whether the case passed.
func (r *Result) Passed() bool {
	if len(r.Failures) > 0 {
		return false
	}
	for _, s := range r.Steps {
		if s.Failure != "" {
			return false
		}
	}
	return true
}

// defaultAccount and defaultContact stand in when a case has no webhook to take them from.
const (
	defaultAccount = "100000000000001"
	defaultContact = "16505551234"
)

// caseRun is one running case: its session and its mocks.
type caseRun struct {
	*Session
	c     *Case
	mocks *Mocks
}

// Run replays one case. Cases share nothing but the compiled engine, so they may run at once.
func Run(ctx context.Context, c *Case, opts Options) *Result {
	start := time.Now()
	res := &Result{Case: c}
	r, err := setup(ctx, c, opts)
	if err != nil {
		res.Failures = append(res.Failures, err.Error())
		res.Duration = time.Since(start)
		return res
	}
	defer r.Close()
	for i := range c.Steps {
		res.Steps = append(res.Steps, r.step(ctx, i, &c.Steps[i]))
	}
	for i, m := range c.HTTPMocks {
		if r.mocks.used[i] == 0 {
			res.Failures = append(res.Failures, fmt.Sprintf("http_mocks[%d] (%s %s) was never used", i, orGET(m.Method), m.URL))
		}
	}
	res.Duration = time.Since(start)
	return res
}

func orGET(m string) string {
	if m == "" {
		return http.MethodGet
	}
	return strings.ToUpper(m)
}

// setup builds the case's session: virtual clock, embedded store, fake Graph API, the engine with
// the case's http mocks, and the initial variables.
func setup(ctx context.Context, c *Case, opts Options) (*caseRun, error) {
	if opts.Engine == nil {
		return nil, fmt.Errorf("no flows to run the case against")
	}
	if opts.Channels == nil || len(opts.Channels.Names()) == 0 {
		return nil, fmt.Errorf("no channels to play the case on")
	}
	var p channel.Provider
	if c.Channel != "" {
		if p = opts.Channels.Lookup(c.Channel); p == nil {
			return nil, fmt.Errorf("channel %q: no such channel (this build has %s)", c.Channel, strings.Join(opts.Channels.Names(), ", "))
		}
	}
	p, account, contact, first, err := c.firstWebhook(opts.Channels, p)
	if err != nil {
		return nil, err
	}
	if c.Account != "" {
		account = c.Account
	}
	var identity msg.Contact
	if k := c.Contact.Key(); k != "" {
		contact = k
		identity = msg.Contact{Phone: c.Contact.Phone, UserID: c.Contact.UserID, Username: c.Contact.Username}
	}
	at := first
	if c.Clock != "" {
		at, _ = time.Parse(time.RFC3339, c.Clock)
	}
	if at.IsZero() {
		at = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC) // a Monday morning
	}
	r := &caseRun{c: c, mocks: NewMocks(c.HTTPMocks)}
	r.Session, err = NewSession(SessionOptions{
		Engine: opts.Engine, HTTP: r.mocks, Provider: p, Tenant: opts.Tenant, Team: opts.Team, DedupTTL: opts.DedupTTL,
		Account: account, Contact: contact, Identity: identity, Clock: at,
	})
	if err != nil {
		return nil, err
	}
	if len(c.Vars) > 0 {
		if err := r.SetVars(ctx, c.Vars); err != nil {
			r.Close()
			return nil, err
		}
	}
	return r, nil
}

// firstWebhook reads the first webhook step for the account, contact and time it carries. It
// is parsed by p, or when p is nil by the first provider that reads it (which the case then
// plays; without webhooks, the first registered).
func (c *Case) firstWebhook(reg *channel.Registry, p channel.Provider) (_ channel.Provider, account, contact string, at time.Time, err error) {
	account, contact = defaultAccount, defaultContact
	for _, s := range c.Steps {
		if s.Webhook == "" {
			continue
		}
		body, err := os.ReadFile(c.path(s.Webhook))
		if err != nil {
			return nil, "", "", time.Time{}, fmt.Errorf("webhook: %w", err)
		}
		evs, parsedBy, err := parseWith(reg, p, body)
		if err != nil {
			return nil, "", "", time.Time{}, fmt.Errorf("webhook %s: %w", s.Webhook, err)
		}
		p = parsedBy
		for _, ev := range evs {
			if ev.IsMessage() && ev.From != "" {
				return p, ev.Account, ev.From, ev.Time, nil
			}
		}
	}
	if p == nil {
		p = reg.Providers()[0]
	}
	return p, account, contact, time.Time{}, nil
}

// parseWith parses body with p, or when p is nil with the first provider that reads it.
func parseWith(reg *channel.Registry, p channel.Provider, body []byte) ([]msg.Event, channel.Provider, error) {
	if p != nil {
		evs, err := p.Parse(body)
		return evs, p, err
	}
	var errs []string
	for _, q := range reg.Providers() {
		evs, err := q.Parse(body)
		if err == nil {
			return evs, q, nil
		}
		errs = append(errs, err.Error())
	}
	return nil, nil, fmt.Errorf("no channel reads it (%s)", strings.Join(errs, "; "))
}

func (c *Case) path(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(c.File), p)
}

// step runs one step and checks its expectations.
func (r *caseRun) step(ctx context.Context, i int, s *Step) StepResult {
	sr := StepResult{Index: i + 1}
	r.FailSends(s.Graph)
	var t *Turn
	var err error
	switch {
	case s.Webhook != "":
		sr.Desc = "webhook " + s.Webhook
		var body []byte
		if body, err = os.ReadFile(r.c.path(s.Webhook)); err == nil {
			t, err = r.Deliver(ctx, body)
		}
	case s.Send != nil:
		sr.Desc = "send " + s.Send.describe()
		t, err = r.Say(ctx, s.Send)
	case s.Start != nil:
		sr.Desc = "start " + s.Start.Flow
		t, err = r.Start(ctx, s.Start.Flow, s.Start.Node, s.Start.Vars)
	case s.Advance != "":
		sr.Desc = "advance " + s.Advance
		d, _ := time.ParseDuration(s.Advance)
		t, err = r.Advance(ctx, d)
	}
	if t != nil {
		sr.Trace, sr.Errors, sr.sent = t.Trace, t.Errors, t.Sent
	}
	for _, m := range sr.sent {
		sr.actual = append(sr.actual, describe(&m.Message))
	}
	if err != nil {
		sr.Failure = err.Error()
		return sr
	}
	if s.Expect.Kind != 0 {
		sr.Failure = diff(s.expect, sr.sent)
	}
	if s.State != nil {
		if why := r.checkState(ctx, s.State); why != "" {
			sr.Failure = strings.TrimSpace(sr.Failure + "\n" + why)
		}
	}
	return sr
}

func (s *SendStep) describe() string {
	switch {
	case s.Button != "":
		return "button " + s.Button
	case s.List != "":
		return "list " + s.List
	case s.Location != nil:
		return "location"
	case s.Image != "":
		return "image " + s.Image
	}
	return fmt.Sprintf("%q", s.Text)
}

// checkState compares the conversation with a state expectation.
func (r *caseRun) checkState(ctx context.Context, want *StateExpect) string {
	st, err := r.State(ctx)
	if err != nil {
		return err.Error()
	}
	var why []string
	if want.Node != nil && st.Node != *want.Node {
		why = append(why, fmt.Sprintf("state: waiting at %q, want %q", st.Node, *want.Node))
	}
	if want.Flow != nil && st.Flow != *want.Flow {
		why = append(why, fmt.Sprintf("state: in flow %q, want %q", st.Flow, *want.Flow))
	}
	if want.OptedOut != nil && st.OptedOut != *want.OptedOut {
		why = append(why, fmt.Sprintf("state: opted_out is %v, want %v", st.OptedOut, *want.OptedOut))
	}
	if want.Handoff != nil && st.Handoff != *want.Handoff {
		why = append(why, fmt.Sprintf("state: handoff is %q, want %q", st.Handoff, *want.Handoff))
	}
	for k, v := range want.Vars {
		got, ok := st.Vars[k]
		if !ok {
			why = append(why, fmt.Sprintf("state: vars.%s is not set, want %s", k, compact(v)))
			continue
		}
		if !reflect.DeepEqual(normalize(normalizeJSON(got)), normalize(normalizeJSON(v))) {
			why = append(why, fmt.Sprintf("state: vars.%s is %s, want %s", k, compact(got), compact(v)))
		}
	}
	return strings.Join(why, "\n")
}

// diff compares the expected messages with the sent ones, and renders them side by side when
// they differ: "  " lines match, "- " lines are expected, "+ " lines are what was sent.
func diff(want []Expectation, got []Sent) string {
	ok := len(want) == len(got)
	whys := make([]string, len(want))
	for i := range want {
		if i < len(got) {
			whys[i] = want[i].mismatch(&got[i])
		} else {
			whys[i] = "not sent"
		}
		if whys[i] != "" {
			ok = false
		}
	}
	if ok {
		return ""
	}
	var b strings.Builder
	if len(want) == 0 {
		b.WriteString("expected no message\n")
	}
	n := max(len(want), len(got))
	for i := 0; i < n; i++ {
		switch {
		case i < len(want) && i < len(got) && whys[i] == "":
			fmt.Fprintf(&b, "  %s\n", yamlLine(describe(&got[i].Message)))
		default:
			if i < len(want) {
				fmt.Fprintf(&b, "- %s", yamlLine(want[i]))
				if whys[i] != "" && whys[i] != "not sent" {
					fmt.Fprintf(&b, "    # %s", whys[i])
				}
				b.WriteByte('\n')
			}
			if i < len(got) {
				fmt.Fprintf(&b, "+ %s\n", yamlLine(describe(&got[i].Message)))
			}
		}
	}
	return strings.TrimRight(b.String(), "\n")
}
