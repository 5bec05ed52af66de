// Package bundle loads Flowgate bundles and creates them from gtc setup answers.
//
// A bundle is a directory (docs/bundle.md):
//
//	bundle.yaml                                # name, default tenant/team, settings
//	flows/*.yaml                               # the flows
//	templates.yaml                             # approved WhatsApp templates
//	providers/<tenant>/<team>/<channel>.json   # channel credentials (0600)
//	tests/                                     # flowctl test cases and recorded webhooks
//	.env                                       # values for ${NAME} the environment lacks (0600)
//
// Load reads and validates all of it, reporting every problem with its file and position; it is
// what flowctl validate, flowctl test --bundle and gtc serve share. Setup writes a bundle that
// Load accepts as it is.
package bundle

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/flowgate/flowgate/engine"
	"github.com/flowgate/flowgate/engine/msg"
)

// Files and directories of a bundle.
const (
	FlowsDir      = "flows"
	TemplatesFile = "templates.yaml"
	ProvidersDir  = "providers"
	TestsDir      = "tests"
	SchemaDir     = "schema"
)

// nameRE is what a tenant or team name must look like: it is part of URLs and paths.
var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// ValidName reports whether s can be a tenant or team name.
func ValidName(s string) bool { return nameRE.MatchString(s) }

// Bundle is a loaded bundle.
type Bundle struct {
	Dir           string
	Name          string
	DefaultTenant string
	DefaultTeam   string
	Settings      engine.Settings
	DedupTTL      time.Duration
	APIToken      string // resolved; empty when bundle.yaml sets none
	Flows         []*engine.Flow
	Templates     []engine.Template
	Channels      []Channel // enabled channels only, by tenant, team and channel
	// Engine is built from the flows, templates and settings with engine.New, which does the
	// cross-file validation. It is nil when the bundle has errors.
	Engine *engine.Engine
}

// Channel is one enabled channel of one tenant and team, with ${NAME} references resolved.
type Channel struct {
	Tenant        string
	Team          string
	Name          string // the channel: whatsapp, messenger, instagram
	AccountID     string // phone number id, page id or Instagram account id
	Token         string
	AppSecret     string
	VerifyToken   string
	APIVersion    string
	APIBaseURL    string
	PublicBaseURL string
	// Optional holds the channel's further keys that are set (WhatsApp's business_account_id).
	Optional map[string]string
	File     string // the provider file it was read from
}

// CallbackURL is the webhook URL to paste into the Meta app dashboard.
func (c Channel) CallbackURL() string {
	return CallbackURL(c.PublicBaseURL, c.Name, c.Tenant, c.Team)
}

// CallbackURL builds {public_base_url}/webhook/{channel}/{tenant}/{team}.
func CallbackURL(publicBaseURL, channel, tenant, team string) string {
	return strings.TrimRight(publicBaseURL, "/") + "/webhook/" + channel + "/" + tenant + "/" + team
}

// Channel returns the enabled channel for tenant, team and name, or nil.
func (b *Bundle) Channel(tenant, team, name string) *Channel {
	for i := range b.Channels {
		c := &b.Channels[i]
		if c.Tenant == tenant && c.Team == team && c.Name == name {
			return c
		}
	}
	return nil
}

// IsBundle reports whether dir holds a bundle.yaml.
func IsBundle(dir string) bool {
	st, err := os.Stat(filepath.Join(dir, ConfigFile))
	return err == nil && st.Mode().IsRegular()
}

// Load reads the bundle in dir and validates it. ${NAME} references are resolved with getenv
// and, for names getenv does not set, from dir/.env. The diagnostics hold every problem found,
// errors and warnings; the bundle is usable only when they hold no error.
func Load(dir string, getenv func(string) string) (*Bundle, engine.Diagnostics) {
	return LoadWith(dir, LoadOptions{Getenv: getenv})
}

// LoadOptions adjust LoadWith.
type LoadOptions struct {
	// Getenv resolves ${NAME} references; names it leaves empty are looked up in the bundle's
	// .env. Nil means only .env.
	Getenv func(string) string
	// Limits are what each channel can carry, by channel name, as the providers publish them
	// (providers.Limits()); flows are checked against them.
	Limits map[string]msg.Limits
	// Offline is for tools that never talk to Meta (flowctl validate, test, chat): a ${NAME}
	// that cannot be resolved is no problem, and the value it stands for is left empty.
	// Everything else is checked as for serving.
	Offline bool
}

// LoadWith is Load with options.
func LoadWith(dir string, opts LoadOptions) (*Bundle, engine.Diagnostics) {
	var ds engine.Diagnostics
	b := &Bundle{Dir: dir}
	res := &resolver{getenv: opts.Getenv, envPath: filepath.Join(dir, EnvFile), offline: opts.Offline}
	if data, err := os.ReadFile(res.envPath); err == nil {
		ds = append(ds, warnReadable(res.envPath)...)
		vals, bad := parseDotenv(data)
		res.dotenv = vals
		for _, line := range bad {
			ds = append(ds, errAt(res.envPath, engine.Pos{Line: line, Col: 1}, "want NAME=value"))
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		ds = append(ds, errAt(res.envPath, engine.Pos{}, err.Error()))
	}

	cfgPath := filepath.Join(dir, ConfigFile)
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		msg := err.Error()
		if errors.Is(err, fs.ErrNotExist) {
			msg = "no bundle.yaml: " + dir + " is not a bundle (create one with gtc setup)"
		}
		ds = append(ds, errAt(cfgPath, engine.Pos{}, msg))
		return b, ds
	}
	cfg, cds := parseConfig(cfgPath, data, res)
	ds = append(ds, cds...)
	b.Name, b.DefaultTenant, b.DefaultTeam = cfg.Name, cfg.DefaultTenant, cfg.DefaultTeam
	b.Settings, b.DedupTTL, b.APIToken = cfg.Settings, cfg.DedupTTL, cfg.APIToken
	if b.Name == "" {
		b.Name = filepath.Base(filepath.Clean(dir))
	}

	flows, unloaded, templates, fds := readFlows(filepath.Join(dir, FlowsDir), filepath.Join(dir, TemplatesFile))
	ds = append(ds, fds...)
	b.Flows, b.Templates = flows, templates

	chans, pds := loadProviders(filepath.Join(dir, ProvidersDir), res)
	ds = append(ds, pds...)
	b.Channels = chans

	eng, eds := engine.New(engine.Config{Flows: flows, Unloaded: unloaded, Templates: templates, Settings: b.Settings,
		SettingsFile: cfgPath, Limits: opts.Limits})
	ds = append(ds, eds...)
	if !ds.HasErrors() {
		b.Engine = eng
	}
	return b, ds
}

// LoadFlows reads flow files without a bundle, for flowctl validate FILE...: each path is a flow
// file or a directory of them (*.yaml and *.yml, except templates.yaml and *.test.yaml). The
// templates come from the first templates.yaml found beside the flows or one directory up; without
// one, the templates flows send are warned about as unchecked rather than refused. The
// engine is built with default settings and the channels' limits (nil skips content checks).
func LoadFlows(limits map[string]msg.Limits, paths ...string) (*engine.Engine, []*engine.Flow, engine.Diagnostics) {
	cfg, ds := flowsConfig(limits, paths...)
	eng, eds := engine.New(cfg)
	ds = append(ds, eds...)
	if ds.HasErrors() {
		eng = nil
	}
	return eng, cfg.Flows, ds
}

// flowsConfig reads the flow files and templates of LoadFlows into an engine configuration with
// default settings.
func flowsConfig(limits map[string]msg.Limits, paths ...string) (engine.Config, engine.Diagnostics) {
	var ds engine.Diagnostics
	var files []string
	tplPath := ""
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			ds = append(ds, errAt(p, engine.Pos{}, err.Error()))
			continue
		}
		dir := p
		if st.IsDir() {
			fs, err := flowFiles(p)
			if err != nil {
				ds = append(ds, errAt(p, engine.Pos{}, err.Error()))
			}
			files = append(files, fs...)
		} else {
			dir = filepath.Dir(p)
			if filepath.Base(p) != TemplatesFile {
				files = append(files, p)
			}
		}
		if tplPath == "" {
			for _, c := range []string{filepath.Join(dir, TemplatesFile), filepath.Join(dir, "..", TemplatesFile)} {
				if _, err := os.Stat(c); err == nil {
					tplPath = filepath.Clean(c)
					break
				}
			}
		}
	}
	var templates []engine.Template
	if tplPath != "" {
		var tds engine.Diagnostics
		templates, tds = readTemplates(tplPath)
		ds = append(ds, tds...)
	}
	flows, unloaded, fds := readFlowFiles(files)
	ds = append(ds, fds...)
	return engine.Config{Flows: flows, Unloaded: unloaded, Templates: templates, NoTemplates: tplPath == "",
		Settings: engine.DefaultSettings(), Limits: limits}, ds
}

// readFlows reads flows/*.yaml and templates.yaml, and names the flow files that did not load.
// A missing templates.yaml is no error: flows that send templates then fail validation.
func readFlows(flowsDir, tplPath string) ([]*engine.Flow, []string, []engine.Template, engine.Diagnostics) {
	var ds engine.Diagnostics
	var templates []engine.Template
	if _, err := os.Stat(tplPath); err == nil {
		var tds engine.Diagnostics
		templates, tds = readTemplates(tplPath)
		ds = append(ds, tds...)
	}
	files, err := flowFiles(flowsDir)
	if err != nil {
		ds = append(ds, errAt(flowsDir, engine.Pos{}, err.Error()))
	}
	flows, unloaded, fds := readFlowFiles(files)
	return flows, unloaded, templates, append(ds, fds...)
}

// readFlowFiles reads flow files, and names those that could not be read or parsed.
func readFlowFiles(files []string) ([]*engine.Flow, []string, engine.Diagnostics) {
	var ds engine.Diagnostics
	var flows []*engine.Flow
	var unloaded []string
	for _, f := range files {
		fl, fds := readFlow(f)
		ds = append(ds, fds...)
		if fl != nil {
			flows = append(flows, fl)
		} else {
			unloaded = append(unloaded, f)
		}
	}
	return flows, unloaded, ds
}

// flowFiles lists the flow files of a directory, sorted.
func flowFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no %s directory", filepath.Base(dir))
		}
		return nil, err
	}
	var files []string
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || n == TemplatesFile || strings.HasSuffix(n, ".test.yaml") || strings.HasPrefix(n, ".") {
			continue
		}
		if strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml") {
			files = append(files, filepath.Join(dir, n))
		}
	}
	sort.Strings(files)
	return files, nil
}

func readFlow(path string) (*engine.Flow, engine.Diagnostics) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, engine.Diagnostics{errAt(path, engine.Pos{}, err.Error())}
	}
	return engine.ParseFlow(path, data)
}

func readTemplates(path string) ([]engine.Template, engine.Diagnostics) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, engine.Diagnostics{errAt(path, engine.Pos{}, err.Error())}
	}
	return engine.ParseTemplates(path, data)
}

func errAt(file string, p engine.Pos, msg string) engine.Diagnostic {
	return engine.Diagnostic{File: file, Pos: p, Severity: engine.SevError, Message: msg}
}

func warnAt(file string, p engine.Pos, msg string) engine.Diagnostic {
	return engine.Diagnostic{File: file, Pos: p, Severity: engine.SevWarning, Message: msg}
}

// loadProviders reads providers/<tenant>/<team>/<channel>.json.
func loadProviders(dir string, res *resolver) ([]Channel, engine.Diagnostics) {
	var ds engine.Diagnostics
	var chans []Channel
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		files = append(files, path)
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		ds = append(ds, errAt(dir, engine.Pos{}, err.Error()))
	}
	sort.Strings(files)
	for _, path := range files {
		rel, _ := filepath.Rel(dir, path)
		parts := strings.Split(filepath.ToSlash(rel), "/")
		if len(parts) != 3 || !strings.HasSuffix(parts[2], ".json") {
			ds = append(ds, warnAt(path, engine.Pos{}, "ignored: provider files are providers/<tenant>/<team>/<channel>.json"))
			continue
		}
		tenant, team, name := parts[0], parts[1], strings.TrimSuffix(parts[2], ".json")
		spec := specFor(name)
		switch {
		case spec == nil:
			ds = append(ds, errAt(path, engine.Pos{}, fmt.Sprintf("unknown channel %q: the file name must be one of %s", name, strings.Join(ChannelNames(), ".json, ")+".json")))
			continue
		case !ValidName(tenant) || !ValidName(team):
			ds = append(ds, errAt(path, engine.Pos{}, "tenant and team directory names must be lowercase letters, digits, - or _"))
			continue
		}
		ch, cds := loadProvider(path, spec, res)
		ds = append(ds, cds...)
		if ch != nil {
			ch.Tenant, ch.Team = tenant, team
			chans = append(chans, *ch)
		}
	}
	return chans, ds
}

// warnReadable warns about a file that holds credentials (a provider file, .env) and that
// others than its owner may read.
func warnReadable(path string) engine.Diagnostics {
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
		return engine.Diagnostics{warnAt(path, engine.Pos{}, fmt.Sprintf("holds credentials but is readable by others (mode %04o): chmod 600 %s", st.Mode().Perm(), path))}
	}
	return nil
}

// loadProvider reads one provider file: the same keys as the channel's answers section. It
// returns nil for a disabled channel or one with errors.
func loadProvider(path string, spec *channelSpec, res *resolver) (*Channel, engine.Diagnostics) {
	var ds engine.Diagnostics
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, engine.Diagnostics{errAt(path, engine.Pos{}, err.Error())}
	}
	ds = append(ds, warnReadable(path)...)
	_, defs, err := compiledSchema()
	if err != nil {
		return nil, append(ds, errAt(path, engine.Pos{}, err.Error()))
	}
	var inst any
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.UseNumber()
	if err := dec.Decode(&inst); err != nil {
		p := engine.Pos{Line: 1, Col: 1}
		if se, ok := asSyntax(err); ok {
			l, c := lineCol(data, max(int(se.Offset)-1, 0))
			p = engine.Pos{Line: l, Col: c}
		}
		return nil, append(ds, errAt(path, p, "invalid JSON: "+err.Error()))
	}
	pos := jsonPositions(data)
	if probs := schemaProblems(defs[spec.Name].Validate(inst), "", spec.Name); len(probs) > 0 {
		for _, pr := range probs {
			ds = append(ds, errAt(path, pos.of(pr.Path), pr.String()))
		}
		return nil, ds
	}
	a := channelFromMap(spec, inst.(map[string]any))
	if !a.Enabled {
		return nil, ds
	}
	ch := &Channel{Name: spec.Name, File: path}
	type field struct {
		key string
		src string
		dst *string
	}
	fields := []field{
		{"public_base_url", a.PublicBaseURL, &ch.PublicBaseURL},
		{spec.IDKey, a.AccountID, &ch.AccountID},
		{spec.TokenKey, a.Token, &ch.Token},
		{"verify_token", a.VerifyToken, &ch.VerifyToken},
		{"app_secret", a.AppSecret, &ch.AppSecret},
		{"api_version", a.APIVersion, &ch.APIVersion},
		{"api_base_url", a.APIBaseURL, &ch.APIBaseURL},
	}
	optional := map[string]*string{}
	for _, k := range spec.Optional {
		if v, ok := a.Optional[k]; ok {
			optional[k] = new(string)
			fields = append(fields, field{k, v, optional[k]})
		}
	}
	bad := false
	for _, f := range fields {
		v, missing := res.resolve(f.src)
		if missing != "" {
			if !res.offline {
				ds = append(ds, errAt(path, pos.of(f.key), f.key+": "+res.missingMsg(missing)))
				bad = true
			}
			continue
		}
		*f.dst = v
	}
	for _, u := range []struct{ key, val string }{{"public_base_url", ch.PublicBaseURL}, {"api_base_url", ch.APIBaseURL}} {
		if !bad && u.val != "" && !IsRef(u.val) {
			if msg := checkURL(u.val); msg != "" {
				ds = append(ds, errAt(path, pos.of(u.key), u.key+": "+msg+"; "+urlFix))
				bad = true
			}
		}
	}
	if a.AppSecret == "" {
		// Optional in the answers (setup writes AppSecretRef then), required here.
		pr := Problem{Path: "app_secret", Message: "required", Fix: fixFor(spec.Name, "app_secret")}
		ds = append(ds, errAt(path, pos.of(""), pr.String()))
		bad = true
	}
	if bad {
		return nil, ds
	}
	for k, v := range optional {
		if ch.Optional == nil {
			ch.Optional = map[string]string{}
		}
		ch.Optional[k] = *v
	}
	return ch, ds
}

// jsonPos maps dotted JSON paths to the positions of their keys.
type jsonPos struct {
	data []byte
	keys map[string]int // path -> byte offset of the key
}

func (p jsonPos) of(path string) engine.Pos {
	// For a missing key, fall back to its parent object, then to the top.
	for path != "" {
		if off, ok := p.keys[path]; ok {
			l, c := lineCol(p.data, off)
			return engine.Pos{Line: l, Col: c}
		}
		i := strings.LastIndex(path, ".")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return engine.Pos{Line: 1, Col: 1}
}

// jsonPositions records where each object key starts, by dotted path. It is best effort: on
// malformed input it returns what it found so far.
func jsonPositions(data []byte) jsonPos {
	p := jsonPos{data: data, keys: map[string]int{}}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	var walk func(prefix string) bool
	walk = func(prefix string) bool {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		d, ok := tok.(json.Delim)
		if !ok {
			return true
		}
		switch d {
		case '{':
			for dec.More() {
				start := int(dec.InputOffset())
				kt, err := dec.Token()
				if err != nil {
					return false
				}
				k, _ := kt.(string)
				// The key starts at its opening quote, after any separator and space.
				for start < len(data) && data[start] != '"' {
					start++
				}
				path := join(prefix, k)
				p.keys[path] = start
				if !walk(path) {
					return false
				}
			}
		case '[':
			i := 0
			for dec.More() {
				if !walk(join(prefix, fmt.Sprint(i))) {
					return false
				}
				i++
			}
		}
		_, err = dec.Token() // the closing delimiter
		return err == nil
	}
	walk("")
	return p
}
