package engine

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/internal/suggest"
)

// New checks a bundle's flows as a whole and compiles them: node references, expressions and
// interpolations, templates against templates.yaml, content against each channel's limits,
// cycles that never wait, and unreachable nodes (warnings). The engine is returned even when
// there are errors, so that callers can report everything; it must not be run then.
// New compiles the flows in place (node steps, indexes): a Flow belongs to the Engine built
// from it. For the same flows with another HTTP client, use WithHTTP rather than a second New.
func New(cfg Config) (*Engine, Diagnostics) {
	var ds Diagnostics
	e := &Engine{
		flows:    map[string]*Flow{},
		settings: cfg.Settings,
		http:     cfg.HTTP,
		limits:   cfg.Limits,
		optOut:   upperSet(cfg.Settings.OptOutKeywords),
		optIn:    upperSet(cfg.Settings.OptInKeywords),
	}
	flows := slices.Clone(cfg.Flows)
	sort.SliceStable(flows, func(i, j int) bool { return flows[i].File < flows[j].File })
	for _, f := range flows {
		if prev := e.flows[f.Name]; prev != nil {
			diags{f.File, &ds}.errorf(at(f.root, "name"), "flow name %q is already used by %s", f.Name, prev.File)
			continue
		}
		e.flows[f.Name] = f
		e.order = append(e.order, f)
	}
	c := &checker{e: e, templates: map[string][]Template{}, noTemplates: cfg.NoTemplates, unloaded: cfg.Unloaded,
		limits: cfg.Limits, list: &ds, vars: setVars(e.order)}
	e.categories = make(map[string]string, len(cfg.Templates))
	for _, t := range cfg.Templates {
		c.templates[t.Name] = append(c.templates[t.Name], t)
		e.categories[t.Name+"\x00"+t.Language] = t.Category
	}
	for _, f := range e.order {
		c.index(f)
	}
	for _, f := range e.order {
		c.flow(f)
	}
	if cfg.Settings.FallbackTemplate != nil {
		tc := cfg.Settings.FallbackTemplate
		d := diags{cfg.SettingsFile, &ds}
		e.fallback = c.fallback(compiler{d: d}, d, nil, nil, tc, "window.fallback_template", nil)
	}
	if name := cfg.Settings.DefaultFlow; name != "" {
		if f := e.flows[name]; f == nil {
			diags{cfg.SettingsFile, &ds}.errorf(Pos{}, "default_flow: no flow named %q", name)
		} else if f.start() == nil {
			diags{f.File, &ds}.errorf(at(f.root, "name"), "flow %q is the bundle's default flow but has no start node", name)
		}
	}
	c.overlaps()
	c.reachability()
	c.unsetVars()
	c.phoneUses()
	return e, ds
}

// phoneUses warns where a flow passes contact.phone on (an http node's url, headers or body, a
// set node's value) without any branch of the flow testing it: a WhatsApp user known only by
// a username has no phone number, and the value is then empty.
func (c *checker) phoneUses() {
	for _, f := range c.e.order {
		var uses []*yaml.Node
		checked := false
		for _, n := range f.Nodes {
			switch n.Type {
			case "branch":
				checked = checked || mentions(valueAt(&n.Config, "conditions"), phoneRef) != nil
			case "http":
				for _, k := range []string{"url", "headers", "body"} {
					uses = append(uses, mentions(valueAt(&n.Config, k), phoneRef)...)
				}
			case "set":
				uses = append(uses, mentions(valueAt(&n.Config, "vars"), phoneRef)...)
			}
		}
		if checked {
			continue
		}
		d := diags{f.File, c.list}
		for _, y := range uses {
			d.warnf(nodePos(y), "%s is empty for a WhatsApp user known only by a username (no phone number): test it in a branch (contact.phone != \"\") before passing it on, or use contact.id", phoneRef)
		}
	}
}

// phoneRef is the expression phoneUses looks for.
const phoneRef = "contact.phone"

// mentions returns the scalars under y whose text contains s.
func mentions(y *yaml.Node, s string) []*yaml.Node {
	if y == nil {
		return nil
	}
	if y.Kind == yaml.ScalarNode {
		if strings.Contains(y.Value, s) {
			return []*yaml.Node{y}
		}
		return nil
	}
	var out []*yaml.Node
	for _, ch := range y.Content {
		out = append(out, mentions(ch, s)...)
	}
	return out
}

// overlaps warns about a trigger whose keyword or button id another flow's trigger of the same
// type already takes: the one matched first always wins, and the other never fires for it (as
// in a copied flow that kept its original's keywords).
func (c *checker) overlaps() {
	for j, t := range c.e.triggers {
		field := "keywords"
		if t.Type != "message" {
			field = "ids"
		}
		reported := map[string]bool{}
		for _, w := range c.e.triggers[:j] {
			if w.node.flow == t.node.flow || w.Type != t.Type || w.pattern != nil || w.expr != nil ||
				(t.Interrupt && !w.Interrupt) || !sharesChannel(w.node.flow, t.node.flow) {
				continue
			}
			theirs := w.keywords
			if w.Type != "message" {
				theirs = w.ids
			}
			why := "it has a higher priority"
			if w.Priority == t.Priority {
				why = fmt.Sprintf("same priority, and %s sorts before %s", w.node.flow.File, t.node.flow.File)
			}
			written := t.Keywords
			if t.Type != "message" {
				written = t.IDs
			}
			for i, k := range written {
				key := k
				if t.Type == "message" {
					key = strings.ToUpper(strings.TrimSpace(k))
				}
				if !theirs[key] || reported[key] {
					continue
				}
				reported[key] = true
				f := t.node.flow
				diags{f.File, c.list}.warnf(at(t.y, field, itoa(i)), "triggers[%d]: %s %q is also taken by flow %q's %s trigger, which wins (%s): this trigger never fires for it",
					slices.Index(f.Triggers, t.Trigger), strings.TrimSuffix(field, "s"), k, w.node.flow.Name, w.Type, why)
			}
		}
	}
}

// sharesChannel reports whether two flows can run on a same channel (no list means every one).
func sharesChannel(a, b *Flow) bool {
	if len(a.Channels) == 0 || len(b.Channels) == 0 {
		return true
	}
	return slices.ContainsFunc(a.Channels, func(ch string) bool { return slices.Contains(b.Channels, ch) })
}

// setVars lists the variables a bundle's flows can hold: those an input, http or set node sets
// and those a flow declares under vars: (which the API's start may fill).
func setVars(flows []*Flow) map[string]bool {
	set := map[string]bool{}
	for _, f := range flows {
		for k := range f.Vars {
			set[k] = true
		}
		for _, n := range f.Nodes {
			switch n.Type {
			case "input", "http":
				if v := valueAt(&n.Config, "save_as"); v != nil && v.Value != "" {
					set[v.Value] = true
				}
			case "set":
				if v := valueAt(&n.Config, "vars"); v != nil && v.Kind == yaml.MappingNode {
					for i := 0; i < len(v.Content); i += 2 {
						set[v.Content[i].Value] = true
					}
				}
			}
		}
	}
	return set
}

// unsetVars warns about the variables that interpolations and expressions read and that no node
// sets and no flow declares: they are always missing, and most often a misspelling.
func (c *checker) unsetVars() {
	if len(c.unloaded) > 0 {
		return // the node that sets them may be in a flow that did not load
	}
	known := slices.Sorted(maps.Keys(c.vars))
	for _, r := range c.reads {
		if !c.vars[r.name] {
			r.d.warnf(r.pos, "%s: no node sets %s and no flow declares it under vars:, so %s%s",
				r.what, r.name, r.then, suggest.DidYouMean(r.name, known))
		}
	}
}

// checker holds what validation needs across flows.
type checker struct {
	e         *Engine
	templates map[string][]Template
	// noTemplates: there is no templates.yaml, and template uses are warned about, not checked.
	noTemplates bool
	unloaded    []string // flow files that did not load (Config.Unloaded)
	limits      map[string]msg.Limits
	list        *Diagnostics
	vars        map[string]bool // the variables some node sets or some flow declares (setVars)
	reads       []varRead       // variables read by interpolations and expressions
}

// index records a flow's nodes by id, reporting duplicates.
func (c *checker) index(f *Flow) {
	d := diags{f.File, c.list}
	f.index = make(map[string]*Node, len(f.Nodes))
	for _, n := range f.Nodes {
		if _, dup := f.index[n.ID]; dup {
			d.errorf(at(n.y, "id"), "duplicate node id %q", n.ID)
			continue
		}
		f.index[n.ID] = n
	}
}

// flow compiles one flow's nodes and triggers.
func (c *checker) flow(f *Flow) {
	d := diags{f.File, c.list}
	cc := compiler{d: d, src: f.src, reads: &c.reads, vars: c.vars}
	if f.Start != "" && f.index[f.Start] == nil {
		d.errorf(at(f.root, "start"), "start: no node %q in flow %q%s", f.Start, f.Name, suggest.DidYouMean(f.Start, f.nodeIDs()))
	}
	for _, ch := range f.Channels {
		if c.limits != nil {
			if _, ok := c.limits[ch]; !ok {
				d.errorf(at(f.root, "channels"), "channels: no provider for channel %q", ch)
			}
		}
	}
	if f.WindowFallback != nil {
		f.fallback = c.fallback(cc, d, f, nil, f.WindowFallback, "window_fallback", f.root)
	}
	for _, k := range slices.Sorted(maps.Keys(f.Vars)) {
		s, err := Storable(f.Vars[k])
		if err != nil {
			d.errorf(at(f.root, "vars", k), "vars.%s: %v", k, err)
			continue
		}
		f.Vars[k] = s
	}
	for _, n := range f.Nodes {
		if f.index[n.ID] == n {
			c.node(cc, d, f, n)
		}
	}
	for i, t := range f.Triggers {
		c.trigger(cc, d, f, i, t)
	}
	c.cycles(d, f)
}

// nodeIDs lists the flow's node ids in the order written, for suggestions.
func (f *Flow) nodeIDs() []string {
	ids := make([]string, len(f.Nodes))
	for i, n := range f.Nodes {
		ids[i] = n.ID
	}
	return ids
}

// ref resolves a node reference written at path below y.
func (c *checker) ref(d diags, f *Flow, n *Node, id string, y *yaml.Node, path ...string) *Node {
	if id == "" {
		return nil
	}
	t := f.index[id]
	if t == nil {
		d.errorf(at(y, path...), "node %q: %s: no node %q in flow %q%s", n.ID, fieldPath(path), id, f.Name, suggest.DidYouMean(id, f.nodeIDs()))
	}
	return t
}

// compileTexts compiles the interpolated strings a build function visits.
func compileTexts(cc compiler, root *yaml.Node, what string, build func(strFunc)) []text {
	var ts []text
	build(func(s string, path ...string) string {
		ts = append(ts, cc.text(s, valueAt(root, path...), what+": "+fieldPath(path)))
		return s
	})
	return ts
}

// compileValue compiles the strings inside an http body.
func compileValue(cc compiler, v any, y *yaml.Node, what string) any {
	switch x := v.(type) {
	case string:
		return cc.text(x, y, what)
	case map[string]any:
		out := make(map[string]any, len(x))
		for _, k := range keysAsWritten(x, y) {
			out[k] = compileValue(cc, x[k], valueAt(y, k), what+"."+k)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = compileValue(cc, e, valueAt(y, itoa(i)), what)
		}
		return out
	}
	return v
}

// keysAsWritten lists the keys of m in the order the YAML mapping y has them (sorted when y is
// not a mapping), so that findings come in a stable order, the file's.
func keysAsWritten(m map[string]any, y *yaml.Node) []string {
	keys := slices.Sorted(maps.Keys(m))
	if y == nil || y.Kind != yaml.MappingNode {
		return keys
	}
	at := map[string]int{}
	for i := 0; i+1 < len(y.Content); i += 2 {
		at[y.Content[i].Value] = i
	}
	sort.SliceStable(keys, func(i, j int) bool { return at[keys[i]] < at[keys[j]] })
	return keys
}

// fallback compiles a template config used as a window fallback and checks it against
// templates.yaml. at is its path below root.
func (c *checker) fallback(cc compiler, d diags, f *Flow, n *Node, tc *TemplateConfig, at string, root *yaml.Node) *fallback {
	var prefix []string
	if at != "" {
		prefix = []string{at}
	}
	what := at
	if n != nil {
		what = fmt.Sprintf("node %q", n.ID)
	}
	fb := &fallback{cfg: tc}
	if root != nil {
		fb.texts = compileTexts(cc, root, what, func(str strFunc) { buildTemplate(tc, str, prefix...) })
	} else {
		fb.texts = compileTexts(cc, nil, what, func(str strFunc) { buildTemplate(tc, str, prefix...) })
	}
	c.template(d, what, tc, valueAt(root, prefix...))
	return fb
}

// sendsTemplate checks that every channel the flow runs on can send the template a node sends
// as its message. Window fallbacks are not checked: on a channel without templates a closed
// window means a message tag or nothing, and the fallback is never used there.
func (c *checker) sendsTemplate(d diags, f *Flow, what string, tc *TemplateConfig, y *yaml.Node) {
	for _, ch := range c.channels(f) {
		if l, ok := c.limits[ch]; ok && !l.Templates {
			d.errorf(nodePos(y), "%s: template %q: channel %s cannot send templates; restrict the flow with channels:", what, tc.Name, ch)
		}
	}
}

// template checks a template config against templates.yaml: it must be listed, in that
// language, with the listed number of body parameters, the header parameter the header needs,
// and buttons of the listed kinds.
func (c *checker) template(d diags, what string, tc *TemplateConfig, y *yaml.Node) {
	p := nodePos(y)
	if c.noTemplates {
		d.warnf(at(y, "name"), "%s: cannot check template %q: no templates.yaml (list the approved templates in templates.yaml beside the flows or one folder up)", what, tc.Name)
		return
	}
	list := c.templates[tc.Name]
	if len(list) == 0 {
		d.errorf(at(y, "name"), "%s: template %q is not listed in templates.yaml%s", what, tc.Name, suggest.DidYouMean(tc.Name, slices.Sorted(maps.Keys(c.templates))))
		return
	}
	var t *Template
	var langs []string
	for i := range list {
		langs = append(langs, list[i].Language)
		if list[i].Language == tc.Language {
			t = &list[i]
		}
	}
	if t == nil {
		d.errorf(at(y, "language"), "%s: template %q has no %q translation in templates.yaml (has %s)", what, tc.Name, tc.Language, strings.Join(langs, ", "))
		return
	}
	var body, header int
	bodyPos := p
	for i, comp := range tc.Components {
		cp := at(y, "components", itoa(i))
		switch comp.Type {
		case "body":
			body += len(comp.Parameters)
			bodyPos = at(y, "components", itoa(i), "parameters")
		case "header":
			header += len(comp.Parameters)
			if t.Header == "" {
				d.errorf(cp, "%s: template %q has no header, but components[%d] gives one", what, tc.Name, i)
			}
			for _, prm := range comp.Parameters {
				if t.Header != "" && t.Header != prm.Type {
					d.errorf(cp, "%s: template %q: header parameter is %s, the template's header is %s", what, tc.Name, prm.Type, t.Header)
				}
			}
		case "button":
			if comp.Index < 0 || comp.Index >= len(t.Buttons) {
				d.errorf(at(y, "components", itoa(i), "index"), "%s: template %q: button index %d, but the template has %d button(s)", what, tc.Name, comp.Index, len(t.Buttons))
			} else if comp.SubType != t.Buttons[comp.Index] {
				d.errorf(at(y, "components", itoa(i), "sub_type"), "%s: template %q: button %d is %s, not %s", what, tc.Name, comp.Index, t.Buttons[comp.Index], comp.SubType)
			}
		}
	}
	if body != t.BodyParameters {
		d.errorf(bodyPos, "%s: template %q takes %d body parameter(s), got %d", what, tc.Name, t.BodyParameters, body)
	}
	if header == 0 && t.Header != "" && t.Header != "text" {
		d.errorf(p, "%s: template %q has a header (%s): give its parameter in a header component", what, tc.Name, t.Header)
	}
}

// channels lists the channels a flow runs on: its own list, or every channel with limits.
func (c *checker) channels(f *Flow) []string {
	if len(f.Channels) > 0 {
		return f.Channels
	}
	chs := make([]string, 0, len(c.limits))
	for ch := range c.limits {
		chs = append(chs, ch)
	}
	sort.Strings(chs)
	return chs
}

// content checks a reply's message against the limits of each channel the flow runs on.
func (c *checker) content(d diags, f *Flow, n *Node, m *msg.Message, y *yaml.Node) {
	for _, ch := range c.channels(f) {
		l, ok := c.limits[ch]
		if !ok {
			continue
		}
		over := func(limit int, s, what string, path ...string) {
			size := utf8.RuneCountInString(s)
			unit := "characters"
			if what == "text" && l.TextBytes {
				size, unit = len(s), "bytes"
			}
			if limit > 0 && size > limit {
				d.errorf(at(y, path...), "node %q: %s: %s is %d %s, %s allows at most %d", n.ID, fieldPath(path), what, size, unit, ch, limit)
			}
		}
		switch {
		case m.Text != nil:
			over(l.Text, m.Text.Body, "text", "message")
		case m.Interactive != nil:
			c.interactive(d, n, ch, l, m.Interactive, y, over)
		case m.Media != nil:
			if l.Media != nil && !slices.Contains(l.Media, m.Media.Type) {
				d.errorf(at(y, "media", "type"), "node %q: channel %s cannot send %s media (it sends %s)", n.ID, ch, m.Media.Type, strings.Join(l.Media, ", "))
			}
			over(l.Caption, m.Media.Caption, "caption", "media", "caption")
		case m.Location != nil:
			if !l.Location {
				d.errorf(at(y, "location"), "node %q: channel %s cannot send locations", n.ID, ch)
			}
		}
	}
}

// tag checks a reply's message tag against the tags each channel of the flow takes. A channel
// without tags (WhatsApp) ignores it: its closed window is the templates' business.
func (c *checker) tag(d diags, f *Flow, n *Node, tag string, y *yaml.Node) {
	if tag == "" {
		return
	}
	for _, ch := range c.channels(f) {
		if l, ok := c.limits[ch]; ok && len(l.Tags) > 0 && !slices.Contains(l.Tags, tag) {
			d.errorf(at(y, "tag"), "node %q: tag %s: channel %s takes only %s; restrict the flow with channels:", n.ID, tag, ch, strings.Join(l.Tags, ", "))
		}
	}
}

// interactive checks buttons and lists against a channel's limits.
func (c *checker) interactive(d diags, n *Node, ch string, l msg.Limits, im *msg.Interactive, y *yaml.Node, over func(int, string, string, ...string)) {
	if im.Footer != "" {
		over(l.FooterText, im.Footer, "footer", "interactive", "footer", "text")
	}
	if im.Header != nil {
		over(l.HeaderText, im.Header.Text, "header", "interactive", "header", "text")
	}
	switch im.Type {
	case "button":
		over(l.ButtonBody, im.Body, "body", "interactive", "body", "text")
		if l.Buttons > 0 && len(im.Buttons) > l.Buttons {
			d.errorf(at(y, "interactive", "action", "buttons", itoa(l.Buttons)), "node %q: %d reply buttons, %s allows at most %d", n.ID, len(im.Buttons), ch, l.Buttons)
		}
		seen := map[string]bool{}
		for i, b := range im.Buttons {
			over(l.ButtonTitle, b.Title, "button title", "interactive", "action", "buttons", itoa(i), "reply", "title")
			if seen[b.Title] {
				d.errorf(at(y, "interactive", "action", "buttons", itoa(i), "reply", "title"), "node %q: button title %q is used twice", n.ID, b.Title)
			}
			seen[b.Title] = true
			if seen["id:"+b.ID] {
				d.errorf(at(y, "interactive", "action", "buttons", itoa(i), "reply", "id"), "node %q: button id %q is used twice", n.ID, b.ID)
			}
			seen["id:"+b.ID] = true
		}
	case "list":
		over(l.ListBody, im.Body, "body", "interactive", "body", "text")
		over(l.ListButton, im.ListButton, "list button", "interactive", "action", "button")
		if l.ListSections > 0 && len(im.Sections) > l.ListSections {
			d.errorf(at(y, "interactive", "action", "sections"), "node %q: %d list sections, %s allows at most %d", n.ID, len(im.Sections), ch, l.ListSections)
		}
		rows := 0
		var overRow Pos // the first row past the limit
		ids := map[string]bool{}
		for i, s := range im.Sections {
			over(l.SectionTitle, s.Title, "section title", "interactive", "action", "sections", itoa(i), "title")
			for j, r := range s.Rows {
				rows++
				p := []string{"interactive", "action", "sections", itoa(i), "rows", itoa(j)}
				if rows == l.ListRows+1 {
					overRow = at(y, p...)
				}
				over(l.RowTitle, r.Title, "row title", append(p, "title")...)
				over(l.RowDescription, r.Description, "row description", append(p, "description")...)
				if ids[r.ID] {
					d.errorf(at(y, append(p, "id")...), "node %q: row id %q is used twice", n.ID, r.ID)
				}
				ids[r.ID] = true
			}
		}
		if l.ListRows > 0 && rows > l.ListRows {
			d.errorf(overRow, "node %q: %d list rows, %s allows at most %d", n.ID, rows, ch, l.ListRows)
		}
	}
}

// trigger compiles one trigger.
func (c *checker) trigger(cc compiler, d diags, f *Flow, i int, t *Trigger) {
	ct := &trigger{Trigger: t}
	if ct.node = f.index[t.Target]; ct.node == nil {
		d.errorf(at(t.y, "target"), "triggers[%d]: target: no node %q in flow %q%s", i, t.Target, f.Name, suggest.DidYouMean(t.Target, f.nodeIDs()))
		return
	}
	if len(t.Keywords) > 0 {
		ct.keywords = upperSet(t.Keywords)
	}
	if len(t.IDs) > 0 {
		ct.ids = map[string]bool{}
		for _, id := range t.IDs {
			ct.ids[id] = true
		}
	}
	if t.Pattern != "" {
		re, err := regexp.Compile(t.Pattern)
		if err != nil {
			d.errorf(at(t.y, "pattern"), "triggers[%d]: pattern: %v", i, err)
		}
		ct.pattern = re
	}
	if t.Expression != "" {
		ct.expr = cc.bool(t.Expression, valueAt(t.y, "expression"), fmt.Sprintf("triggers[%d]: expression", i))
	}
	switch t.Type {
	case "message":
		if len(t.IDs) > 0 {
			d.errorf(at(t.y, "ids"), "triggers[%d]: ids narrow interactive and postback triggers, not message triggers", i)
		}
	case "interactive", "postback":
		if len(t.Keywords) > 0 || t.Pattern != "" {
			d.errorf(at(t.y, "type"), "triggers[%d]: keywords and pattern narrow message triggers, not %s triggers", i, t.Type)
		}
	}
	c.e.triggers = append(c.e.triggers, ct)
	// Keep triggers ordered by priority, then file name and order of appearance (stable).
	sort.SliceStable(c.e.triggers, func(a, b int) bool { return c.e.triggers[a].Priority > c.e.triggers[b].Priority })
}

// edges lists the nodes a node can continue at.
func edges(n *Node) []*Node {
	es := n.edges()
	out := make([]*Node, len(es))
	for i, e := range es {
		out[i] = e.To
	}
	return out
}

// cycles reports loops that can repeat without waiting at an input node: they would spin until
// the step limit on every event.
func (c *checker) cycles(d diags, f *Flow) {
	const (
		unseen = iota
		active
		done
	)
	state := map[*Node]int{}
	var stack []*Node
	var visit func(n *Node) bool
	visit = func(n *Node) bool {
		if _, wait := n.step.(waiter); wait {
			return false
		}
		switch state[n] {
		case active:
			i := slices.Index(stack, n)
			ids := make([]string, 0, len(stack)-i+1)
			for _, s := range stack[i:] {
				ids = append(ids, s.flow.Name+"/"+s.ID)
			}
			ids = append(ids, n.flow.Name+"/"+n.ID)
			d.errorf(at(n.y, "id"), "node %q: cycle without an input node: %s", n.ID, strings.Join(ids, " → "))
			return true
		case done:
			return false
		}
		state[n] = active
		stack = append(stack, n)
		for _, m := range edges(n) {
			if visit(m) {
				return true
			}
		}
		stack = stack[:len(stack)-1]
		state[n] = done
		return false
	}
	for _, n := range f.Nodes {
		if n.step != nil && state[n] == unseen {
			visit(n)
		}
	}
}

// reachability warns about nodes no trigger, start node, goto or default flow can reach, and
// once about a flow with no way in at all rather than about each of its nodes. A flow whose
// file has errors is skipped: a broken reference makes the nodes after it look unreachable, and
// the error is what to fix.
func (c *checker) reachability() {
	broken := map[string]bool{}
	for _, d := range *c.list {
		if d.Severity == SevError {
			broken[d.File] = true
		}
	}
	seen := map[*Node]bool{}
	var walk func(n *Node)
	walk = func(n *Node) {
		if n == nil || seen[n] {
			return
		}
		seen[n] = true
		for _, m := range edges(n) {
			walk(m)
		}
	}
	for _, t := range c.e.triggers {
		walk(t.node)
	}
	for _, f := range c.e.order {
		walk(f.start())
	}
	for _, f := range c.e.order {
		if broken[f.File] {
			continue
		}
		if len(f.Triggers) == 0 && f.Start == "" && len(f.Nodes) > 0 && !slices.ContainsFunc(f.Nodes, func(n *Node) bool { return seen[n] }) {
			// One finding for the flow, not one per node.
			diags{f.File, c.list}.warnf(at(f.root, "name"), "flow %q has no way in: it has no triggers and no start, and no goto leads to it; add a trigger (triggers: [{type: message, keywords: [...], target: %s}]) or a start node", f.Name, f.Nodes[0].ID)
			continue
		}
		for _, n := range f.Nodes {
			if !seen[n] && f.index[n.ID] == n {
				diags{f.File, c.list}.warnf(at(n.y, "id"), "node %q is unreachable: no trigger, start, goto or other node leads to it", n.ID)
			}
		}
	}
}

// fieldPath renders a path below a node's config as authors read it: action.buttons[1].reply.
func fieldPath(path []string) string { return strings.TrimSuffix(where(path), ": ") }

// at is the position of the value at path below y, or of its nearest ancestor.
func at(y *yaml.Node, path ...string) Pos {
	if y == nil {
		return Pos{}
	}
	return valuePos(y, path)
}

// valueAt is the node at path below y, or nil.
func valueAt(y *yaml.Node, path ...string) *yaml.Node {
	if y == nil {
		return nil
	}
	_, v := lookup(y, path)
	return v
}

func upperSet(words []string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[strings.ToUpper(strings.TrimSpace(w))] = true
	}
	return m
}
