package bundle

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	flowgate "github.com/flowgate/flowgate"
	"github.com/flowgate/flowgate/engine"
)

// APITokenVar is the variable bundle.yaml's api.token refers to when setup generates the token.
const APITokenVar = "FLOWGATE_API_TOKEN"

// SetupOptions adjust Setup.
type SetupOptions struct {
	Tenant string // overrides the answers' tenant
	Team   string // overrides the answers' team
	DryRun bool   // compute the changes and their diffs, write nothing
	// Seed holds the example flows and test cases (flows/*.yaml, flows/templates.yaml,
	// testdata/cases/**). Nil means flowgate.Seed().
	Seed fs.FS
	// Rand is the source of the generated admin API token. Nil means crypto/rand.
	Rand io.Reader
}

// Action is what Setup does, or would do, to one file.
type Action string

// Actions.
const (
	Create    Action = "create"
	Update    Action = "update"
	Chmod     Action = "chmod"     // content as wanted, mode corrected to 0600
	Keep      Action = "keep"      // the file differs from what setup would write, and is the author's: kept
	Unchanged Action = "unchanged" // already as setup would write it
)

// Change is one file Setup considered.
type Change struct {
	Path   string // relative to the bundle directory, with forward slashes
	Action Action
	Mode   fs.FileMode
	Note   string // why a file is kept
	// Diff is a unified diff of an Update, with secret values redacted. It is filled in dry
	// runs only.
	Diff string
}

// ChannelSummary is what the operator pastes into the Meta app dashboard for one channel.
type ChannelSummary struct {
	Name        string
	Tenant      string
	Team        string
	AccountID   string
	CallbackURL string // may contain a ${NAME} reference when public_base_url is one
	VerifyToken string // as written in the answers: a literal or a ${NAME} reference
	Fields      []string
	// AppSecretDefaulted: the answers gave no app_secret; the provider file refers to
	// AppSecretRef, which gtc serve needs set.
	AppSecretDefaulted bool
}

// SetupReport is the outcome of Setup.
type SetupReport struct {
	Dir      string
	DryRun   bool
	Answers  *Answers // with --tenant and --team applied
	Changes  []Change
	Channels []ChannelSummary // enabled channels
	// Refs lists the ${NAME} references the written files use, sorted.
	Refs []string
}

// Changed reports whether Setup wrote (or, in a dry run, would write) anything.
func (r *SetupReport) Changed() bool {
	for _, c := range r.Changes {
		if c.Action == Create || c.Action == Update || c.Action == Chmod {
			return true
		}
	}
	return false
}

// planned is one file Setup wants in the bundle.
type planned struct {
	rel  string
	dir  bool // a directory (flows/, tests/) that a new bundle has even when empty
	data []byte
	// redact hides secret values in diffs, marking those that differ from other (when not
	// nil) as changed; nil for files without secrets.
	redact func(data, other []byte) []byte
	mode   fs.FileMode // 0600 for secrets
	// authored files (flows, templates, tests, bundle.yaml) are written only when absent.
	authored bool
	note     string // for a kept authored file
	// update computes the wanted content from the existing content (nil when the file does
	// not exist), for .env and disabled channels; ok false means nothing to do. Nil means data
	// is the wanted content.
	update func(old []byte) (data []byte, ok bool)
}

// Setup creates or updates the bundle in dir from answers (docs/bundle.md). It is
// idempotent: files already as wanted are not touched, and flows, tests, templates.yaml and
// bundle.yaml that exist are never overwritten. Problems in the answers come back together as an
// *AnswersError, and then nothing in dir has been touched.
func Setup(ctx context.Context, answers []byte, dir string, opts SetupOptions) (*SetupReport, error) {
	a, err := ParseAnswers(answers)
	var probs []Problem
	var ae *AnswersError
	switch {
	case errors.As(err, &ae):
		probs = ae.Problems // reported together with the flags' problems
	case err != nil:
		return nil, err
	}
	for _, f := range []struct{ flag, val string }{{"--tenant", opts.Tenant}, {"--team", opts.Team}} {
		if f.val != "" && !ValidName(f.val) {
			probs = append(probs, Problem{Path: f.flag, Message: fmt.Sprintf("%q is not a valid name", f.val), Fix: "use lowercase letters, digits, - or _"})
		}
	}
	if len(probs) > 0 {
		return nil, &AnswersError{Problems: probs}
	}
	if opts.Tenant != "" {
		a.Tenant = opts.Tenant
	}
	if opts.Team != "" {
		a.Team = opts.Team
	}
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", dir)
	}
	seed := opts.Seed
	if seed == nil {
		seed = flowgate.Seed()
	}
	rnd := opts.Rand
	if rnd == nil {
		rnd = rand.Reader
	}

	plan, err := makePlan(dir, a, seed, rnd)
	if err != nil {
		return nil, err
	}
	rep := &SetupReport{Dir: dir, DryRun: opts.DryRun, Answers: a}
	var writes []func() error
	for _, p := range plan {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ch, write, err := p.compare(dir, opts.DryRun)
		if err != nil {
			return nil, err
		}
		if ch.Action == "" {
			continue // nothing to write and nothing to say
		}
		rep.Changes = append(rep.Changes, ch)
		if write != nil {
			writes = append(writes, write)
		}
	}
	if !opts.DryRun {
		for _, w := range writes {
			if err := w(); err != nil {
				return rep, err
			}
		}
	}
	refs := map[string]bool{}
	for _, c := range a.Channels {
		vals := []string{c.PublicBaseURL, c.AccountID, c.Token, c.VerifyToken, c.AppSecret, c.APIVersion, c.APIBaseURL}
		for _, v := range c.Optional {
			vals = append(vals, v)
		}
		for _, v := range vals {
			if n := RefName(v); n != "" && c.Enabled {
				refs[n] = true
			}
		}
		if !c.Enabled {
			continue
		}
		rep.Channels = append(rep.Channels, ChannelSummary{
			Name: c.Name, Tenant: a.Tenant, Team: a.Team, AccountID: c.AccountID,
			CallbackURL:        CallbackURL(c.PublicBaseURL, c.Name, a.Tenant, a.Team),
			VerifyToken:        c.VerifyToken,
			Fields:             WebhookFields(c.Name),
			AppSecretDefaulted: c.AppSecretDefaulted,
		})
	}
	if n := RefName(a.APIToken); n != "" {
		refs[n] = true
	}
	for n := range refs {
		rep.Refs = append(rep.Refs, n)
	}
	sort.Strings(rep.Refs)
	return rep, nil
}

// compare decides what to do with one planned file and returns the write to do it.
func (p *planned) compare(dir string, dryRun bool) (Change, func() error, error) {
	full := filepath.Join(dir, filepath.FromSlash(p.rel))
	ch := Change{Path: p.rel, Mode: p.mode}
	if p.dir {
		if _, err := os.Stat(full); err == nil {
			return Change{}, nil, nil
		}
		ch.Path += "/"
		ch.Action = Create
		return ch, func() error { return os.MkdirAll(full, 0o755) }, nil
	}
	old, err := os.ReadFile(full)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return ch, nil, err
	}
	data := p.data
	if p.update != nil {
		var ok bool
		if data, ok = p.update(old); !ok {
			return Change{}, nil, nil
		}
	}
	display := func(b, other []byte) []byte {
		if p.redact == nil || b == nil {
			return b
		}
		return p.redact(b, other)
	}
	switch {
	case !exists:
		ch.Action = Create // no diff: a new bundle is dozens of seeded files, listed by folder
		return ch, func() error { return writeFile(full, data, p.mode) }, nil
	case bytes.Equal(old, data):
		if p.mode&0o077 == 0 {
			if st, err := os.Stat(full); err == nil && st.Mode().Perm() != p.mode {
				ch.Action = Chmod
				return ch, func() error { return os.Chmod(full, p.mode) }, nil
			}
		}
		ch.Action = Unchanged
		return ch, nil, nil
	case p.authored:
		ch.Action, ch.Note = Keep, p.note
		return ch, nil, nil
	default:
		ch.Action = Update
		if dryRun {
			ch.Diff = unifiedDiff("a/"+p.rel, "b/"+p.rel, display(old, nil), display(data, old))
		}
		return ch, func() error { return writeFile(full, data, p.mode) }, nil
	}
}

// writeFile writes data atomically (a temporary file renamed into place) with the mode.
func writeFile(path string, data []byte, mode fs.FileMode) error {
	dirMode := fs.FileMode(0o755)
	if mode&0o077 == 0 {
		dirMode = 0o700
	}
	if err := os.MkdirAll(filepath.Dir(path), dirMode); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// makePlan lists every file setup wants, in the order they are reported.
func makePlan(dir string, a *Answers, seed fs.FS, rnd io.Reader) ([]*planned, error) {
	var plan []*planned

	// bundle.yaml, written once: after that its settings are the author's.
	tokenRef := "${" + APITokenVar + "}"
	if IsRef(a.APIToken) {
		tokenRef = a.APIToken
	}
	name := filepath.Base(mustAbs(dir))
	plan = append(plan, &planned{rel: ConfigFile, data: renderConfig(name, a.Tenant, a.Team, tokenRef), mode: 0o644,
		authored: true, note: "yours is kept; its settings are the author's"})

	// .env: the admin API token, when bundle.yaml refers to FLOWGATE_API_TOKEN.
	existingRef := tokenRef
	if data, err := os.ReadFile(filepath.Join(dir, ConfigFile)); err == nil {
		existingRef = rawAPIToken(data)
	}
	if RefName(existingRef) == APITokenVar {
		literal := ""
		if a.APIToken != "" && !IsRef(a.APIToken) {
			literal = a.APIToken
		}
		generated, err := randomToken(rnd)
		if err != nil {
			return nil, err
		}
		plan = append(plan, &planned{rel: EnvFile, mode: 0o600, redact: redactDotenv, update: func(old []byte) ([]byte, bool) {
			vals, _ := parseDotenv(old)
			cur, has := vals[APITokenVar]
			switch {
			case literal != "" && cur == literal, literal == "" && has && cur != "":
				return old, true // the token is there already: the line stays as its author wrote it
			case literal != "":
				cur = literal
			default:
				cur = generated
			}
			base := old
			if len(old) == 0 {
				base = []byte(envHeader)
			}
			return setDotenv(base, APITokenVar, cur), true
		}})
	}

	// templates.yaml, flows and tests from the seed, for a new bundle only: in an existing one
	// they are the author's, and an example the author deleted stays deleted. Even then a file
	// that exists is never overwritten.
	if _, err := os.Stat(filepath.Join(dir, ConfigFile)); errors.Is(err, fs.ErrNotExist) {
		seedPlan, err := seedFiles(seed)
		if err != nil {
			return nil, err
		}
		for _, d := range []string{FlowsDir, TestsDir} {
			empty := true
			for _, p := range seedPlan {
				empty = empty && !strings.HasPrefix(p.rel, d+"/")
			}
			if empty {
				plan = append(plan, &planned{rel: d, dir: true, mode: 0o755})
			}
		}
		plan = append(plan, seedPlan...)
		plan = append(plan, &planned{rel: ".gitignore", data: []byte(gitignore), mode: 0o644, authored: true, note: "yours is kept"})
	}

	// Provider files: the answers are their source of truth.
	for _, c := range a.Channels {
		rel := path.Join(ProvidersDir, a.Tenant, a.Team, c.Name+".json")
		spec := specFor(c.Name)
		if c.Enabled {
			plan = append(plan, &planned{rel: rel, data: renderProvider(spec, c), redact: redactJSON, mode: 0o600})
			continue
		}
		// A disabled channel: an existing file is switched off, not deleted; no file is made.
		plan = append(plan, &planned{rel: rel, mode: 0o600, redact: redactJSON, update: func(old []byte) ([]byte, bool) {
			if old == nil {
				return nil, false
			}
			m, keys, err := decodeOrdered(old)
			if err != nil || m == nil { // not a JSON object (null decodes to a nil map): not ours to edit
				return nil, false
			}
			if _, ok := m["enabled"]; !ok {
				keys = append([]string{"enabled"}, keys...)
			}
			m["enabled"] = json.RawMessage("false")
			return encodeOrdered(m, keys), true
		}})
	}
	return plan, nil
}

// gitignore keeps the secrets of a new bundle out of version control.
const gitignore = `# Written by gtc setup: secrets stay out of version control.
.env
`

const envHeader = `# Values for ${NAME} references that the environment does not set (the environment wins).
# Written by gtc setup. Keep it secret: mode 0600, and out of version control.
`

func mustAbs(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return dir
	}
	return abs
}

func randomToken(r io.Reader) (string, error) {
	b := make([]byte, 32)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("generating the API token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// rawAPIToken returns api.token of a bundle.yaml as written (unresolved), or "".
func rawAPIToken(data []byte) string {
	var doc struct {
		API struct {
			Token string `yaml:"token"`
		} `yaml:"api"`
	}
	if yaml.Unmarshal(data, &doc) != nil {
		return ""
	}
	return doc.API.Token
}

// seedFiles plans the example flows, templates and test cases.
func seedFiles(seed fs.FS) ([]*planned, error) {
	var plan []*planned
	add := func(src, dst string) error {
		data, err := fs.ReadFile(seed, src)
		if err != nil {
			return err
		}
		plan = append(plan, &planned{rel: dst, data: data, mode: 0o644, authored: true,
			note: "differs from the example; yours is kept"})
		return nil
	}
	if err := add("flows/"+TemplatesFile, TemplatesFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("seed: %w", err)
	}
	walk := func(root, to string, keep func(string) bool) error {
		err := fs.WalkDir(seed, root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if strings.HasPrefix(d.Name(), ".") && p != root {
				if d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if d.IsDir() || !keep(p) {
				return nil
			}
			return add(p, path.Join(to, strings.TrimPrefix(p, root+"/")))
		})
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	isFlow := func(p string) bool {
		return path.Base(p) != TemplatesFile && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml"))
	}
	if err := walk("flows", FlowsDir, isFlow); err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	if err := walk("testdata/cases", TestsDir, func(string) bool { return true }); err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	// The JSON Schemas, so that the editor lines at the top of flows and cases resolve inside
	// the bundle: flows/x.yaml names ../schema/flow.schema.json as in this repository; cases
	// sit one level higher here than in testdata/cases, so their line loses one "../".
	if err := walk("schema", SchemaDir, func(p string) bool { return strings.HasSuffix(p, ".json") }); err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	for _, p := range plan {
		if strings.HasPrefix(p.rel, TestsDir+"/") && strings.Count(p.rel, "/") == 1 {
			p.data = bytes.Replace(p.data, []byte("$schema=../../schema/"), []byte("$schema=../schema/"), 1)
		}
	}
	return plan, nil
}

// renderConfig writes a new bundle.yaml with every setting at its default, so that an author
// sees what can be changed.
func renderConfig(name, tenant, team, tokenRef string) []byte {
	s := engine.DefaultSettings()
	var b strings.Builder
	fmt.Fprintf(&b, `# Flowgate bundle settings (docs/bundle.md). Written by gtc setup, then yours: setup never
# rewrites this file. The values shown are the defaults.
name: %s
default_tenant: %s   # serves /webhook/{channel} without tenant and team
default_team: %s

window:
  margin: %s
  # fallback_template: {name: follow_up, language: en}   # sent when the 24-hour window is closed
  hold: %t             # after a fallback, keep the event's other messages for the user's reply
  hold_messages: %d    # at most this many, the latest
  hold_for: %s        # each for this long

opt_out:
  keywords: [%s]
  confirmation: %s
opt_in:
  keywords: [%s]

session_timeout: %s
dedup_ttl: %s
max_steps_per_event: %d
# default_flow: onboarding   # the flow for messages that no trigger matches

api:
  token: %s   # bearer token of the admin API
`, yamlString(name), tenant, team, engine.FormatDuration(s.WindowMargin), s.Hold, s.HoldMessages, engine.FormatDuration(s.HoldFor), strings.Join(s.OptOutKeywords, ", "),
		strconv.Quote(s.OptOutConfirmation), strings.Join(s.OptInKeywords, ", "),
		engine.FormatDuration(s.SessionTimeout), engine.FormatDuration(DefaultDedupTTL), s.MaxSteps, yamlString(tokenRef))
	return []byte(b.String())
}

// yamlString writes s as a YAML scalar, quoted when needed.
func yamlString(s string) string {
	if s != "" && !strings.ContainsAny(s, ":#{}[],&*!|>'\"%@` \t\n") && !strings.HasPrefix(s, "-") {
		return s
	}
	return strconv.Quote(s)
}

// redacted is what a secret value is shown as; changed marks one that differs from the
// value it replaces, so that a diff still shows that it changes.
func redacted(changed bool) string {
	if changed {
		return "<redacted, changed>"
	}
	return "<redacted>"
}

// redactDotenv redacts a .env file whole, for display: every value, and every other line but
// blank ones, since a comment or a line that is not NAME=value (a token pasted on its own) may
// hold a secret too.
func redactDotenv(data, other []byte) []byte {
	var prev map[string]string
	if other != nil {
		prev, _ = parseDotenv(other)
	}
	cur, _ := parseDotenv(data)
	var out bytes.Buffer
	for _, l := range strings.SplitAfter(string(data), "\n") {
		t := strings.TrimSpace(l)
		if k, _, ok := strings.Cut(t, "="); ok && !strings.HasPrefix(t, "#") {
			k = strings.TrimSpace(strings.TrimPrefix(k, "export "))
			old, had := prev[k]
			fmt.Fprintf(&out, "%s=%s\n", k, redacted(prev != nil && (!had || old != cur[k])))
			continue
		}
		if t != "" {
			l = redacted(false) + "\n"
			if strings.HasPrefix(t, "#") {
				l = "# " + l
			}
		}
		out.WriteString(l)
	}
	return out.Bytes()
}

// renderProvider writes a provider file: the channel's answers keys with defaults filled in.
func renderProvider(spec *channelSpec, c ChannelAnswers) []byte {
	vals := map[string]string{
		"public_base_url": c.PublicBaseURL,
		spec.IDKey:        c.AccountID,
		spec.TokenKey:     c.Token,
		"verify_token":    c.VerifyToken,
		"app_secret":      c.AppSecret,
		"api_version":     c.APIVersion,
		"api_base_url":    c.APIBaseURL,
	}
	for k, v := range c.Optional {
		vals[k] = v
	}
	m := map[string]json.RawMessage{"enabled": json.RawMessage("true")}
	var keys []string
	for _, k := range spec.Keys {
		if k == "enabled" {
			keys = append(keys, k)
			continue
		}
		if v := vals[k]; v != "" {
			m[k] = jsonString(v)
			keys = append(keys, k)
		}
	}
	return encodeOrdered(m, keys)
}

// redactJSON replaces literal secret values in a provider file's JSON, for display: tokens and
// the app secret, not the verify token, which the operator pastes into the dashboard anyway.
func redactJSON(data, other []byte) []byte {
	m, keys, err := decodeOrdered(data)
	if err != nil {
		return []byte("<unreadable provider file>\n")
	}
	var prev map[string]json.RawMessage
	if other != nil {
		prev, _, _ = decodeOrdered(other)
	}
	secrets := []string{"app_secret"}
	for _, sp := range channelSpecs() {
		if !slices.Contains(secrets, sp.TokenKey) {
			secrets = append(secrets, sp.TokenKey)
		}
	}
	for _, k := range secrets {
		var v string
		if raw, ok := m[k]; ok && json.Unmarshal(raw, &v) == nil && !IsRef(v) {
			changed := other != nil && !bytes.Equal(prev[k], raw)
			m[k] = jsonString(redacted(changed))
		}
	}
	return encodeOrdered(m, keys)
}

// jsonString encodes s as a JSON string without escaping <, > and &.
func jsonString(s string) json.RawMessage {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// decodeOrdered reads a JSON object keeping its key order.
func decodeOrdered(data []byte) (map[string]json.RawMessage, []string, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil {
		return nil, nil, err
	}
	var keys []string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		keys = append(keys, t.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, nil, err
		}
	}
	return m, keys, nil
}

// encodeOrdered writes a flat JSON object with two-space indentation and the keys in order.
func encodeOrdered(m map[string]json.RawMessage, keys []string) []byte {
	var uniq []string
	seen := map[string]bool{}
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			uniq = append(uniq, k)
		}
	}
	keys = uniq
	var b bytes.Buffer
	b.WriteString("{\n")
	for i, k := range keys {
		kb, _ := json.Marshal(k)
		var vb bytes.Buffer
		if err := json.Indent(&vb, m[k], "  ", "  "); err != nil {
			vb.Reset()
			vb.Write(m[k])
		}
		fmt.Fprintf(&b, "  %s: %s", kb, vb.Bytes())
		if i < len(keys)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("}\n")
	return b.Bytes()
}
