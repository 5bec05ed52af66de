package flowtest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/flowgate/flowgate/engine"
	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/pipeline"
	"github.com/flowgate/flowgate/providers/whatsapp"
	"github.com/flowgate/flowgate/store"
)

// Options configure how cases run.
type Options struct {
	// Engine runs the bundle's flows; each case runs a copy whose HTTP client answers from the
	// case's http_mocks (engine.WithHTTP).
	Engine   *engine.Engine
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
	sent    []sent
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

// caseRun is the state of one running case.
type caseRun struct {
	c     *Case
	opts  Options
	clk   *clock
	graph *graphAPI
	mocks *httpMocks
	pipe  *pipeline.Pipeline
	ch    *pipeline.Channel
	conv  engine.Conversation
	store *store.Mem
	seq   int
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

// setup builds the case's world: virtual clock, memory store, fake Graph API, engine and pipeline.
func setup(ctx context.Context, c *Case, opts Options) (*caseRun, error) {
	if c.Channel != "" && c.Channel != msg.WhatsApp {
		return nil, fmt.Errorf("channel %q: flowctl test replays WhatsApp cases for now", c.Channel)
	}
	account, contact, first, err := c.firstWebhook()
	if err != nil {
		return nil, err
	}
	if c.Account != "" {
		account = c.Account
	}
	if c.Contact != "" {
		contact = c.Contact
	}
	clk := &clock{t: first}
	if c.Clock != "" {
		clk.t, _ = time.Parse(time.RFC3339, c.Clock)
	}
	if clk.t.IsZero() {
		clk.t = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	}
	r := &caseRun{c: c, opts: opts, clk: clk, graph: &graphAPI{}, mocks: &httpMocks{mocks: c.HTTPMocks, used: make([]int, len(c.HTTPMocks))}}
	if opts.Engine == nil {
		return nil, fmt.Errorf("no flows to run the case against")
	}
	eng := opts.Engine.WithHTTP(r.mocks)
	r.store = store.NewMem(clk.Now)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	r.pipe = &pipeline.Pipeline{Engine: eng, Store: r.store, Inbox: r.store, Now: clk.Now, Log: quiet, DedupTTL: opts.DedupTTL}
	client := whatsapp.NewClient(whatsapp.Config{
		PhoneNumberID: account,
		AccessToken:   "flowctl-test-token",
		BaseURL:       "https://graph.flowctl.test",
		HTTPClient:    &http.Client{Transport: r.graph},
		Clock:         clk,
		Jitter:        func(time.Duration) time.Duration { return 0 },
		Logger:        quiet,
	})
	tenant, team := opts.Tenant, opts.Team
	if tenant == "" {
		tenant = "default"
	}
	if team == "" {
		team = "default"
	}
	r.ch = &pipeline.Channel{Name: msg.WhatsApp, Tenant: tenant, Team: team, Parse: whatsapp.Parse, Sender: client}
	r.conv = engine.Conversation{Tenant: tenant, Team: team, Channel: msg.WhatsApp, Account: account, User: contact}
	if len(c.Vars) > 0 {
		data, err := (&engine.State{Vars: c.Vars}).Encode()
		if err != nil {
			return nil, fmt.Errorf("vars: %w", err)
		}
		if err := r.store.Save(ctx, r.conv, data, 30*24*time.Hour); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// firstWebhook reads the first webhook step for the account, contact and time it carries.
func (c *Case) firstWebhook() (account, contact string, at time.Time, err error) {
	account, contact = defaultAccount, defaultContact
	for _, s := range c.Steps {
		if s.Webhook == "" {
			continue
		}
		body, err := os.ReadFile(c.path(s.Webhook))
		if err != nil {
			return "", "", time.Time{}, fmt.Errorf("webhook: %w", err)
		}
		evs, err := whatsapp.Parse(body)
		if err != nil {
			return "", "", time.Time{}, fmt.Errorf("webhook %s: %w", s.Webhook, err)
		}
		for _, ev := range evs {
			if ev.IsMessage() && ev.From != "" {
				return ev.Account, ev.From, ev.Time, nil
			}
		}
	}
	return account, contact, time.Time{}, nil
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
	r.graph.errors = append([]GraphMock(nil), s.Graph...)
	var reports []*pipeline.Report
	var err error
	switch {
	case s.Webhook != "":
		sr.Desc = "webhook " + s.Webhook
		var body []byte
		if body, err = os.ReadFile(r.c.path(s.Webhook)); err == nil {
			reports, err = r.deliver(ctx, body)
		}
	case s.Send != nil:
		sr.Desc = "send " + s.Send.describe()
		var body []byte
		if body, err = r.synth(s.Send); err == nil {
			reports, err = r.deliver(ctx, body)
		}
	case s.Start != nil:
		sr.Desc = "start " + s.Start.Flow
		var rep *pipeline.Report
		if rep, err = r.pipe.Start(ctx, r.ch, r.conv.Account, r.conv.User, s.Start.Flow, s.Start.Node, s.Start.Vars); rep != nil {
			reports = append(reports, rep)
		}
	case s.Advance != "":
		sr.Desc = "advance " + s.Advance
		d, _ := time.ParseDuration(s.Advance)
		r.clk.t = r.clk.t.Add(d)
		reports, err = r.fireTimers(ctx)
	}
	for _, rep := range reports {
		sr.Trace = append(sr.Trace, rep.Trace...)
		for _, o := range rep.Outcomes {
			if o.Err != nil {
				sr.Errors = append(sr.Errors, fmt.Sprintf("%s %s/%s: %v", o.Send.Message.Type(), o.Send.Flow, o.Send.Node, o.Err))
				continue
			}
			var body []byte
			if len(o.IDs) > 0 {
				body = r.graph.bodies[o.IDs[0]]
			}
			sr.sent = append(sr.sent, sent{msg: o.Send.Message, request: body})
		}
	}
	for _, m := range sr.sent {
		sr.actual = append(sr.actual, describe(&m.msg))
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

// deliver sends a webhook body through the pipeline, as the server's handler and worker would.
func (r *caseRun) deliver(ctx context.Context, body []byte) ([]*pipeline.Report, error) {
	_, dups, err := r.pipe.Accept(ctx, r.ch, body)
	if err != nil {
		return nil, err
	}
	var reps []*pipeline.Report
	if dups > 0 {
		reps = append(reps, &pipeline.Report{Duplicate: true, Trace: []engine.TraceEntry{{Kind: "duplicate", Detail: fmt.Sprintf("%d event(s) seen before: dropped", dups)}}})
	}
	for _, it := range r.store.Take() {
		ev := &it.Event
		if ev.IsMessage() && ev.Time.After(r.clk.t) {
			r.clk.t = ev.Time
		}
		rep, err := r.pipe.Process(ctx, r.ch, ev)
		if err != nil {
			return reps, err
		}
		reps = append(reps, rep)
	}
	return reps, nil
}

// fireTimers ticks every conversation whose timers are due at the virtual time.
func (r *caseRun) fireTimers(ctx context.Context) ([]*pipeline.Report, error) {
	convs, err := r.store.Conversations(ctx)
	if err != nil {
		return nil, err
	}
	var reps []*pipeline.Report
	for _, conv := range convs {
		due, err := r.pipe.Due(ctx, conv)
		if err != nil {
			return reps, err
		}
		if due.IsZero() || due.After(r.clk.t) {
			continue
		}
		rep, err := r.pipe.Tick(ctx, r.ch, conv)
		if err != nil {
			return reps, err
		}
		reps = append(reps, rep)
	}
	return reps, nil
}

// synth builds the webhook body of a send step.
func (r *caseRun) synth(s *SendStep) ([]byte, error) {
	r.seq++
	ev := &msg.Event{
		Channel: msg.WhatsApp,
		Account: r.conv.Account,
		From:    r.conv.User,
		ID:      fmt.Sprintf("wamid.flowctl.in.%d", r.seq),
		Time:    r.clk.t,
		Contact: msg.Contact{Name: s.Name},
	}
	switch {
	case s.Button != "":
		ev.Kind, ev.Button = msg.KindButton, &msg.Reply{ID: s.Button, Title: s.Button}
	case s.List != "":
		ev.Kind, ev.List = msg.KindList, &msg.ListReply{ID: s.List, Title: s.List}
	case s.Location != nil:
		l := s.Location
		ev.Kind, ev.Location = msg.KindLocation, &msg.Location{Latitude: l.Latitude, Longitude: l.Longitude, Name: l.Name, Address: l.Address}
	case s.Image != "":
		ev.Kind, ev.Media = msg.KindMedia, &msg.Media{Type: "image", ID: s.Image, MimeType: "image/jpeg", Caption: s.Caption}
	default:
		ev.Kind, ev.Text = msg.KindText, s.Text
	}
	return whatsapp.WebhookBody(ev)
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
	st, err := r.pipe.State(ctx, r.conv)
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
func diff(want []Expectation, got []sent) string {
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
			fmt.Fprintf(&b, "  %s\n", yamlLine(describe(&got[i].msg)))
		default:
			if i < len(want) {
				fmt.Fprintf(&b, "- %s", yamlLine(want[i]))
				if whys[i] != "" && whys[i] != "not sent" {
					fmt.Fprintf(&b, "    # %s", whys[i])
				}
				b.WriteByte('\n')
			}
			if i < len(got) {
				fmt.Fprintf(&b, "+ %s\n", yamlLine(describe(&got[i].msg)))
			}
		}
	}
	return strings.TrimRight(b.String(), "\n")
}
