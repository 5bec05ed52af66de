package bundle

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/flowgate/flowgate/engine"
	"github.com/flowgate/flowgate/internal/suggest"
)

// ConfigFile is the name of a bundle's settings file.
const ConfigFile = "bundle.yaml"

// DefaultDedupTTL is how long inbound message ids are remembered when bundle.yaml says nothing.
const DefaultDedupTTL = 168 * time.Hour

// config is bundle.yaml, decoded.
type config struct {
	Name          string
	DefaultTenant string
	DefaultTeam   string
	Settings      engine.Settings
	DedupTTL      time.Duration
	APIToken      string
}

// configDecoder walks bundle.yaml's nodes, so that every problem has a position and unknown
// keys are caught.
type configDecoder struct {
	file string
	res  *resolver
	ds   *engine.Diagnostics
}

func (d *configDecoder) errorf(n *yaml.Node, format string, args ...any) {
	*d.ds = append(*d.ds, engine.Diagnostic{File: d.file, Pos: nodePos(n), Severity: engine.SevError, Message: fmt.Sprintf(format, args...)})
}

func nodePos(n *yaml.Node) engine.Pos {
	if n == nil {
		return engine.Pos{Line: 1, Col: 1}
	}
	return engine.Pos{Line: n.Line, Col: n.Column}
}

// parseConfig reads bundle.yaml. ${NAME} references in scalar values are resolved through res.
func parseConfig(file string, data []byte, res *resolver) (*config, engine.Diagnostics) {
	var ds engine.Diagnostics
	d := &configDecoder{file: file, res: res, ds: &ds}
	c := &config{
		DefaultTenant: "default",
		DefaultTeam:   "default",
		Settings:      engine.DefaultSettings(),
		DedupTTL:      DefaultDedupTTL,
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		ds = append(ds, engine.SyntaxDiagnostic(file, data, err))
		return c, ds
	}
	if len(doc.Content) == 0 {
		return c, ds // empty file: all defaults
	}
	root := doc.Content[0]
	d.mapping(root, "", map[string]func(k, v *yaml.Node){
		"name":           func(_, v *yaml.Node) { c.Name = d.str(v) },
		"default_tenant": func(_, v *yaml.Node) { c.DefaultTenant = d.name(v) },
		"default_team":   func(_, v *yaml.Node) { c.DefaultTeam = d.name(v) },
		"window": func(_, v *yaml.Node) {
			d.mapping(v, "window", map[string]func(k, v *yaml.Node){
				"margin":            func(_, v *yaml.Node) { c.Settings.WindowMargin = d.duration(v, true) },
				"fallback_template": func(_, v *yaml.Node) { c.Settings.FallbackTemplate = d.template(v) },
				"hold":              func(_, v *yaml.Node) { c.Settings.Hold = d.bool(v) },
				"hold_messages":     func(_, v *yaml.Node) { c.Settings.HoldMessages = d.positiveInt(v) },
				"hold_for":          func(_, v *yaml.Node) { c.Settings.HoldFor = d.duration(v, false) },
			})
		},
		"opt_out": func(_, v *yaml.Node) {
			d.mapping(v, "opt_out", map[string]func(k, v *yaml.Node){
				"keywords":     func(_, v *yaml.Node) { c.Settings.OptOutKeywords = d.strings(v) },
				"confirmation": func(_, v *yaml.Node) { c.Settings.OptOutConfirmation = d.str(v) },
			})
		},
		"opt_in": func(_, v *yaml.Node) {
			d.mapping(v, "opt_in", map[string]func(k, v *yaml.Node){
				"keywords": func(_, v *yaml.Node) { c.Settings.OptInKeywords = d.strings(v) },
			})
		},
		"session_timeout":     func(_, v *yaml.Node) { c.Settings.SessionTimeout = d.duration(v, false) },
		"dedup_ttl":           func(_, v *yaml.Node) { c.DedupTTL = d.duration(v, false) },
		"max_steps_per_event": func(_, v *yaml.Node) { c.Settings.MaxSteps = d.positiveInt(v) },
		"default_flow":        func(_, v *yaml.Node) { c.Settings.DefaultFlow = d.str(v) },
		"limits": func(_, v *yaml.Node) {
			d.mapping(v, "limits", map[string]func(k, v *yaml.Node){
				"var_depth": func(_, v *yaml.Node) {
					c.Settings.MaxVarDepth = d.positiveInt(v)
					if c.Settings.MaxVarDepth > engine.MaxVarDepthLimit {
						d.errorf(v, "var_depth %d is more than %d, the deepest nesting a conversation's state can hold",
							c.Settings.MaxVarDepth, engine.MaxVarDepthLimit)
					}
				},
				"var_bytes":    func(_, v *yaml.Node) { c.Settings.MaxVarBytes = d.positiveInt(v) },
				"expr_time":    func(_, v *yaml.Node) { c.Settings.MaxExprTime = d.duration(v, false) },
				"expr_memory":  func(_, v *yaml.Node) { c.Settings.MaxExprMemory = d.positiveInt(v) },
				"value_length": func(_, v *yaml.Node) { c.Settings.MaxValueLength = d.positiveInt(v) },
				"text_parts":   func(_, v *yaml.Node) { c.Settings.MaxTextParts = d.positiveInt(v) },
			})
		},
		"api": func(_, v *yaml.Node) {
			d.mapping(v, "api", map[string]func(k, v *yaml.Node){
				"token": func(_, v *yaml.Node) { c.APIToken = d.str(v) },
			})
		},
	})
	return c, ds
}

// mapping checks that n is a mapping, reports unknown and repeated keys, and calls the
// handler of each known key.
func (d *configDecoder) mapping(n *yaml.Node, where string, keys map[string]func(k, v *yaml.Node)) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s must be a mapping of keys to values", orTop(where))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		h, ok := keys[k.Value]
		switch {
		case !ok:
			known := make([]string, 0, len(keys))
			for name := range keys {
				known = append(known, name)
			}
			sort.Strings(known)
			msg := fmt.Sprintf("unknown key %q in %s", k.Value, orTop(where))
			if s := suggest.Closest(k.Value, known); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			} else {
				msg += " (known keys: " + strings.Join(known, ", ") + ")"
			}
			d.errorf(k, "%s", msg)
		case seen[k.Value]:
			d.errorf(k, "key %q repeated", k.Value)
		default:
			seen[k.Value] = true
			h(k, v)
		}
	}
}

func orTop(where string) string {
	if where == "" {
		return "bundle.yaml"
	}
	return where
}

// scalar returns the node's value with a ${NAME} reference resolved.
func (d *configDecoder) scalar(n *yaml.Node) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, "want a single value, not a %s", kindName(n))
		return "", false
	}
	if n.Tag == "!!null" {
		return "", true
	}
	v, missing := d.res.resolve(n.Value)
	if missing != "" {
		if !d.res.offline {
			d.errorf(n, "%s", d.res.missingMsg(missing))
		}
		return "", false
	}
	return v, true
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return "value"
}

func (d *configDecoder) str(n *yaml.Node) string {
	s, _ := d.scalar(n)
	return s
}

func (d *configDecoder) name(n *yaml.Node) string {
	s, ok := d.scalar(n)
	if ok && !nameRE.MatchString(s) {
		d.errorf(n, "%q is not a valid tenant or team name: use lowercase letters, digits, - or _", s)
	}
	return s
}

func (d *configDecoder) duration(n *yaml.Node, zeroOK bool) time.Duration {
	s, ok := d.scalar(n)
	if !ok {
		return 0
	}
	v, err := time.ParseDuration(s)
	switch {
	case err != nil:
		d.errorf(n, "%q is not a duration: write it like 24h, 90m or 30s", s)
	case v < 0 || v == 0 && !zeroOK:
		d.errorf(n, "duration %s must be positive", s)
	}
	return v
}

func (d *configDecoder) bool(n *yaml.Node) bool {
	s, ok := d.scalar(n)
	if !ok {
		return false
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		d.errorf(n, "%q is not true or false", s)
	}
	return v
}

func (d *configDecoder) positiveInt(n *yaml.Node) int {
	s, ok := d.scalar(n)
	if !ok {
		return 0
	}
	v, err := strconv.Atoi(s)
	if err != nil || v <= 0 {
		d.errorf(n, "%q is not a positive whole number", s)
	}
	return v
}

func (d *configDecoder) strings(n *yaml.Node) []string {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "want a list, like [STOP, UNSUBSCRIBE]")
		return nil
	}
	out := []string{}
	for _, e := range n.Content {
		if s, ok := d.scalar(e); ok && s != "" {
			out = append(out, s)
		}
	}
	return out
}

// template decodes window.fallback_template: {name, language, components}.
func (d *configDecoder) template(n *yaml.Node) *engine.TemplateConfig {
	t := &engine.TemplateConfig{}
	d.mapping(n, "window.fallback_template", map[string]func(k, v *yaml.Node){
		"name":     func(_, v *yaml.Node) { t.Name = d.str(v) },
		"language": func(_, v *yaml.Node) { t.Language = d.str(v) },
		"components": func(_, v *yaml.Node) {
			if err := v.Decode(&t.Components); err != nil {
				d.errorf(v, "components: %v", err)
			}
		},
	})
	if n.Kind == yaml.MappingNode && (t.Name == "" || t.Language == "") {
		d.errorf(n, "window.fallback_template needs name and language")
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	return t
}
