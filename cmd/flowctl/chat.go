package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/flowgate/flowgate/engine"
	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/flowtest"
	"github.com/flowgate/flowgate/pipeline"
	"github.com/flowgate/flowgate/providers"
)

const chatHelp = `Type a message and press enter. Pick a button or a list row by its number.
  /advance DURATION   move the clock (90s, 25h, 1h30m) and fire due timers
  /start FLOW [NODE]  start a flow, as the API does
  /state              where the conversation waits, and its variables
  /save FILE          write the conversation so far as a test case (FILE ends in .test.yaml)
  /save! FILE         the same, overwriting FILE if it exists
  /help               this list
  /quit               leave (so does end of input)
When the bot sends nothing, a line says why: (no reply: ...).
`

// chat lets an author talk to the flows in the terminal as a user would. It runs the same
// simulated conversation as flowctl test (pipeline, embedded store, fake Graph API, virtual
// clock). http nodes are answered from --mocks when given, and call the real services when not.
func chat(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("flowctl chat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	channels := providers.Registry()
	names := channels.Names()
	dir := fs.String("bundle", ".", "the bundle to talk to (a bundle, or a directory with flows/)")
	channel := fs.String("channel", names[0], "the channel to talk on: "+strings.Join(names, ", "))
	contact := fs.String("contact", "16505551234", "your id on the channel (phone number, page-scoped id), as the flows see it")
	name := fs.String("name", "", "your profile name, as the flows see it (contact.name)")
	mocksFile := fs.String("mocks", "", "answer http nodes from the http_mocks in the YAML `FILE` (as in a test case);\na request with no mock fails, nothing reaches the network.\nWithout it, http nodes call the real services")
	clockAt := fs.String("clock", "", "the RFC 3339 `TIME` the virtual clock starts at (default: now)")
	verbose := fs.Bool("v", false, "print what the engine did after each message")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: flowctl chat [--bundle DIR] [--channel %s] [--contact ID] [--name NAME] [--mocks FILE] [--clock TIME] [-v]\n", strings.Join(names, "|"))
		fs.PrintDefaults()
	}
	rest, err := parse(fs, args)
	if err != nil {
		return exitCode(err) // the flag package has printed the usage
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "flowctl chat: takes no arguments, got %q\n", rest[0])
		fs.Usage()
		return 2
	}
	p := channels.Lookup(*channel)
	if p == nil {
		fmt.Fprintf(stderr, "flowctl chat: channel %q: use one of %s\n", *channel, strings.Join(names, ", "))
		return 2
	}
	start := time.Now().UTC().Truncate(time.Second)
	if *clockAt != "" {
		if start, err = time.Parse(time.RFC3339, *clockAt); err != nil {
			fmt.Fprintf(stderr, "flowctl chat: --clock %s: want an RFC 3339 time such as 2026-01-05T09:00:00Z\n", *clockAt)
			return 2
		}
	}
	var mocks *flowtest.Mocks
	var httpClient engine.HTTPClient = pipeline.HTTPClient{}
	if *mocksFile != "" {
		list, err := flowtest.LoadMocks(*mocksFile)
		if err != nil {
			fmt.Fprintf(stderr, "flowctl chat: --mocks: %v\n", err)
			return 2
		}
		mocks = flowtest.NewMocks(list)
		httpClient = mocks
	}
	opts, ok := loadOptions(*dir, stdout, stderr, getenv)
	if !ok {
		return 2
	}
	s, err := flowtest.NewSession(flowtest.SessionOptions{
		Engine: opts.Engine, HTTP: httpClient, Provider: p, Tenant: opts.Tenant, Team: opts.Team, DedupTTL: opts.DedupTTL,
		Account: "100000000000001", Contact: *contact, Clock: start,
	})
	if err != nil {
		fmt.Fprintf(stderr, "flowctl chat: %v\n", err)
		return 1
	}
	defer s.Close()
	c := &chatter{s: s, out: stdout, name: *name, verbose: *verbose, dir: *dir, mocks: mocks, mocksFile: *mocksFile,
		dim:    isTerminal(stdout) && getenv("NO_COLOR") == "",
		script: flowtest.Transcript{Channel: *channel, Contact: *contact, Clock: start}}
	fmt.Fprintf(stdout, "Talking to %s as %s on %s. /help for commands.\n", *dir, *contact, *channel)
	if mocks != nil {
		c.note("http nodes are answered from %s; nothing reaches the network", *mocksFile)
	} else {
		c.note("http nodes call the real services; --mocks FILE answers them from mocks")
	}
	ctx := context.Background()
	in := bufio.NewScanner(stdin)
	for {
		fmt.Fprint(stdout, "> ")
		if !in.Scan() {
			fmt.Fprintln(stdout)
			break
		}
		if !c.line(ctx, strings.TrimSpace(in.Text())) {
			break
		}
	}
	if err := in.Err(); err != nil {
		fmt.Fprintf(stderr, "flowctl chat: %v\n", err)
		return 1
	}
	return 0
}

// isTerminal reports whether w is a terminal, where notes are dimmed.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// chatter is one chat: the session and the choices the last interactive message offered.
type chatter struct {
	s         *flowtest.Session
	out       io.Writer
	name      string
	verbose   bool
	dim       bool   // dim the notes (a terminal)
	dir       string // the bundle, for the replay hint of /save
	mocks     *flowtest.Mocks
	mocksFile string
	script    flowtest.Transcript // the steps so far, for /save
	choices   []choice
}

// choice is a numbered button or list row the user can pick.
type choice struct {
	id   string
	list bool
}

// line handles one line of input; it reports false when the chat should end.
func (c *chatter) line(ctx context.Context, text string) bool {
	var t *flowtest.Turn
	var err error
	var step flowtest.TranscriptStep
	fields := strings.Fields(text)
	switch {
	case text == "":
		return true
	case text == "/quit" || text == "/exit":
		return false
	case text == "/help":
		fmt.Fprint(c.out, chatHelp)
		return true
	case text == "/state":
		c.state(ctx)
		return true
	case fields[0] == "/save" || fields[0] == "/save!":
		if len(fields) != 2 {
			fmt.Fprintln(c.out, "usage: /save FILE.test.yaml (/save! FILE.test.yaml overwrites it)")
			return true
		}
		c.save(fields[1], fields[0] == "/save!")
		return true
	case fields[0] == "/advance":
		d, perr := time.ParseDuration(strings.Join(fields[1:], ""))
		if len(fields) < 2 || perr != nil || d < 0 {
			fmt.Fprintln(c.out, "usage: /advance DURATION, such as 90s, 25h or 1h30m")
			return true
		}
		step.Advance = d
		t, err = c.s.Advance(ctx, d)
		c.note("the clock is now %s", c.s.Now().Format(time.RFC3339))
	case fields[0] == "/start":
		if len(fields) < 2 || len(fields) > 3 {
			fmt.Fprintln(c.out, "usage: /start FLOW [NODE]")
			return true
		}
		step.Start = &flowtest.StartStep{Flow: fields[1]}
		if len(fields) == 3 {
			step.Start.Node = fields[2]
		}
		t, err = c.s.Start(ctx, step.Start.Flow, step.Start.Node, nil)
	case strings.HasPrefix(text, "/"):
		fmt.Fprintf(c.out, "unknown command %s; /help lists them\n", fields[0])
		return true
	default:
		step.Send = c.input(text)
		t, err = c.s.Say(ctx, step.Send)
	}
	if t != nil {
		c.show(t)
	}
	if err != nil {
		c.note("error: %v", err)
		return true
	}
	if t != nil {
		step.Sent = t.Sent
		c.script.Steps = append(c.script.Steps, step)
	}
	return true
}

// save writes the conversation so far as a test case; force overwrites an existing file.
func (c *chatter) save(path string, force bool) {
	base := filepath.Base(path)
	name, ok := strings.CutSuffix(base, ".test.yaml")
	if !ok {
		name, ok = strings.CutSuffix(base, ".test.yml")
	}
	if !ok {
		c.note("not saved: a case file's name ends in .test.yaml, so that flowctl test finds it")
		return
	}
	if len(c.script.Steps) == 0 {
		c.note("not saved: nothing has happened yet")
		return
	}
	c.script.Name = name
	if c.mocks != nil {
		c.script.Mocks = c.mocks.Used()
	}
	data, err := c.script.Marshal(path)
	if err == nil {
		err = writeNew(path, data, force)
	}
	switch {
	case errors.Is(err, fs.ErrExist):
		c.note("not saved: %s exists; /save! %s overwrites it", path, path)
	case err != nil:
		c.note("not saved: %v", err)
	default:
		c.note("saved %d step(s) and %d mock(s) to %s; replay it with: flowctl test --bundle %s %s",
			len(c.script.Steps), len(c.script.Mocks), path, c.dir, path)
	}
}

// writeNew writes data to path, refusing to replace an existing file unless force is set.
func writeNew(path string, data []byte, force bool) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if !force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_EXCL
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// note prints a line of the chat's own (not the bot's), in parentheses, dimmed on a terminal.
func (c *chatter) note(format string, args ...any) {
	line := "(" + fmt.Sprintf(format, args...) + ")"
	if c.dim {
		line = "\x1b[2m" + line + "\x1b[0m"
	}
	fmt.Fprintln(c.out, line)
}

// input turns a line into the user's message: a number picks a button or row of the last
// interactive message, anything else is text.
func (c *chatter) input(text string) *flowtest.SendStep {
	if n, err := strconv.Atoi(text); err == nil && n >= 1 && n <= len(c.choices) {
		ch := c.choices[n-1]
		if ch.list {
			return &flowtest.SendStep{List: ch.id, Name: c.name}
		}
		return &flowtest.SendStep{Button: ch.id, Name: c.name}
	}
	return &flowtest.SendStep{Text: text, Name: c.name}
}

// show prints what the bot sent, numbering the choices of an interactive message.
func (c *chatter) show(t *flowtest.Turn) {
	if c.verbose {
		for _, e := range t.Trace {
			fmt.Fprintf(c.out, "  . %s\n", e)
		}
	}
	if c.mocks != nil {
		for _, req := range c.mocks.TakeMissed() {
			c.note("no mock in %s for %s: the http node failed", c.mocksFile, req)
		}
	}
	for _, s := range t.Sent {
		c.message(&s.Message)
	}
	for _, e := range t.Errors {
		c.note("send failed: %s", e)
	}
	if len(t.Sent) == 0 && len(t.Errors) == 0 {
		if why := engine.Quiet(t.Trace); why != "" {
			c.note("no reply: %s", why)
		}
	}
}

func (c *chatter) message(m *msg.Message) {
	switch {
	case m.Text != nil:
		fmt.Fprintf(c.out, "bot: %s\n", m.Text.Body)
	case m.Interactive != nil:
		im := m.Interactive
		if im.Header != nil && im.Header.Text != "" {
			fmt.Fprintf(c.out, "bot: *%s*\n     %s\n", im.Header.Text, im.Body)
		} else {
			fmt.Fprintf(c.out, "bot: %s\n", im.Body)
		}
		if im.Footer != "" {
			fmt.Fprintf(c.out, "     _%s_\n", im.Footer)
		}
		c.choices = c.choices[:0]
		for _, b := range im.Buttons {
			c.choices = append(c.choices, choice{id: b.ID})
			fmt.Fprintf(c.out, "     [%d] %s\n", len(c.choices), b.Title)
		}
		for _, sec := range im.Sections {
			if sec.Title != "" {
				fmt.Fprintf(c.out, "     %s\n", sec.Title)
			}
			for _, r := range sec.Rows {
				c.choices = append(c.choices, choice{id: r.ID, list: true})
				if r.Description != "" {
					fmt.Fprintf(c.out, "     [%d] %s: %s\n", len(c.choices), r.Title, r.Description)
				} else {
					fmt.Fprintf(c.out, "     [%d] %s\n", len(c.choices), r.Title)
				}
			}
		}
	case m.Template != nil:
		var params []string
		for _, comp := range m.Template.Components {
			for _, p := range comp.Parameters {
				switch {
				case p.Payload != "":
					params = append(params, "payload "+p.Payload)
				case p.Media != nil:
					params = append(params, p.Media.Type+" "+p.Media.Link+p.Media.ID)
				default:
					params = append(params, p.Text)
				}
			}
		}
		fmt.Fprintf(c.out, "bot: [template %s (%s)] %s\n", m.Template.Name, m.Template.Language, strings.Join(params, " | "))
	case m.Media != nil:
		fmt.Fprintf(c.out, "bot: [%s %s%s] %s\n", m.Media.Type, m.Media.Link, m.Media.ID, m.Media.Caption)
	case m.Location != nil:
		l := m.Location
		fmt.Fprintf(c.out, "bot: [location %g, %g] %s %s\n", l.Latitude, l.Longitude, l.Name, l.Address)
	default:
		fmt.Fprintf(c.out, "bot: [%s]\n", m.Type())
	}
}

// state prints where the conversation waits and its variables.
func (c *chatter) state(ctx context.Context) {
	st, err := c.s.State(ctx)
	if err != nil {
		c.note("error: %v", err)
		return
	}
	switch {
	case st.Handoff != "":
		fmt.Fprintf(c.out, "in handoff to %s\n", st.Handoff)
	case st.Waiting():
		fmt.Fprintf(c.out, "waiting at %s/%s\n", st.Flow, st.Node)
	default:
		fmt.Fprintln(c.out, "not waiting")
	}
	if st.OptedOut {
		fmt.Fprintln(c.out, "opted out")
	}
	for _, k := range sortedKeys(st.Vars) {
		fmt.Fprintf(c.out, "  vars.%s = %v\n", k, st.Vars[k])
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
