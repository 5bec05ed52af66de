package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
	"gopkg.in/yaml.v3"

	"github.com/flowgate/flowgate/internal/suggest"
)

// Env is the environment expressions and interpolations are compiled against and run in. Its
// field names, through the expr tags, are what authors write: `button.id == 'help'`,
// `last_message_time + 86400 > now`.
type Env struct {
	Message         MessageEnv     `expr:"message"`
	Button          ButtonEnv      `expr:"button"`
	List            ListEnv        `expr:"list"`
	Location        LocationEnv    `expr:"location"`
	Media           MediaEnv       `expr:"media"`
	Contact         ContactEnv     `expr:"contact"`
	Input           string         `expr:"input"`
	Vars            map[string]any `expr:"vars"`
	Channel         string         `expr:"channel"`
	Tenant          string         `expr:"tenant"`
	Team            string         `expr:"team"`
	Now             int64          `expr:"now"`
	LastMessageTime int64          `expr:"last_message_time"`
	WindowOpen      bool           `expr:"window_open"`
	// Ctx carries the running expression's deadline and the run's budget to the functions
	// that charge it; expressions do not use it.
	Ctx context.Context `expr:"ctx"`
}

// MessageEnv is the inbound message in expressions.
type MessageEnv struct {
	ID        string `expr:"id"`
	Type      string `expr:"type"`
	Text      string `expr:"text"`
	Timestamp int64  `expr:"timestamp"`
}

// ButtonEnv is the tapped button, quick reply or postback in expressions.
type ButtonEnv struct {
	ID    string `expr:"id"`
	Title string `expr:"title"`
}

// ListEnv is the chosen list row in expressions.
type ListEnv struct {
	ID          string `expr:"id"`
	Title       string `expr:"title"`
	Description string `expr:"description"`
}

// LocationEnv is a shared location in expressions.
type LocationEnv struct {
	Latitude  float64 `expr:"latitude"`
	Longitude float64 `expr:"longitude"`
	Name      string  `expr:"name"`
	Address   string  `expr:"address"`
}

// MediaEnv is an inbound attachment in expressions.
type MediaEnv struct {
	Type     string `expr:"type"`
	ID       string `expr:"id"`
	MimeType string `expr:"mime_type"`
	Caption  string `expr:"caption"`
	Filename string `expr:"filename"`
}

// ContactEnv is the user in expressions.
type ContactEnv struct {
	ID       string `expr:"id"`
	Name     string `expr:"name"`
	Phone    string `expr:"phone"`    // empty for a WhatsApp user known only by a username
	UserID   string `expr:"user_id"`  // WhatsApp business-scoped user id, when known
	Username string `expr:"username"` // WhatsApp username, when the user has one
}

// envNames are the top-level names of Env; a bare {{name}} that is none of them reads vars.name.
var envNames = map[string]bool{
	"message": true, "button": true, "list": true, "location": true, "media": true,
	"contact": true, "input": true, "vars": true, "channel": true, "tenant": true, "team": true,
	"now": true, "last_message_time": true, "window_open": true,
}

// compiler compiles the expressions of one file, reporting errors at their YAML position.
type compiler struct {
	d     diags
	src   []byte          // the file's text, to place errors inside block scalars; nil when unknown
	reads *[]varRead      // where interpolations and expressions read variables; nil to not record them
	vars  map[string]bool // the variables the bundle sets or declares, to suggest vars.NAME for a bare NAME
}

// varRead is a place that reads a variable: a bare {{name}}, or vars.name, vars['name'] or
// 'name' in vars in an expression. New warns about those that no node sets and no flow declares.
type varRead struct {
	d    diags
	pos  Pos
	name string
	what string
	then string // what follows when the variable is never set: "it always renders empty"
}

// bool compiles an expression that must yield a bool. n is the YAML scalar holding it.
func (c compiler) bool(src string, n *yaml.Node, what string) *vm.Program {
	return c.compile(src, n, 0, what, expr.AsBool())
}

// any compiles an expression of any type.
func (c compiler) any(src string, n *yaml.Node, what string) *vm.Program {
	return c.compile(src, n, 0, what)
}

// compile compiles src, which starts off bytes into the value of the YAML scalar n, and
// reports an error at its place in the file.
func (c compiler) compile(src string, n *yaml.Node, off int, what string, opts ...expr.Option) *vm.Program {
	var costly []costlyExpr
	opts = append(append([]expr.Option{expr.Env(Env{}), expr.Patch(costWatch{&costly})}, opts...), helperOptions()...)
	p, err := expr.Compile(src, append(opts, budgetOptions()...)...)
	if err == nil {
		for _, ce := range costly {
			c.d.warnf(c.scalarPos(n, off+byteOffset(src, ce.at)), "%s: %s", what, ce.why)
		}
	}
	if err != nil {
		var fe *file.Error
		if errors.As(err, &fe) {
			off += byteOffset(src, fe.From)
		}
		c.d.errorf(c.scalarPos(n, off), "%s: %s", what, exprMsg(err, c.vars))
		return nil
	}
	c.recordReads(p, src, n, off, what)
	return p
}

// recordReads notes the variables p, compiled from src, reads by a constant name (vars.x,
// vars['x'], 'x' in vars), for New to check against what sets them. src starts off bytes into
// the value of the YAML scalar n.
func (c compiler) recordReads(p *vm.Program, src string, n *yaml.Node, off int, what string) {
	if c.reads == nil {
		return
	}
	isVars := func(x ast.Node) bool {
		id, ok := x.(*ast.IdentifierNode)
		return ok && id.Value == "vars"
	}
	add := func(at ast.Node, name, shown, then string) {
		pos := c.scalarPos(n, off+byteOffset(src, at.Location().From))
		*c.reads = append(*c.reads, varRead{d: c.d, pos: pos, name: name, what: what + ": " + shown, then: then})
	}
	root := p.Node()
	ast.Walk(&root, visitor(func(x ast.Node) {
		switch x := x.(type) {
		case *ast.MemberNode:
			if name, ok := x.Property.(*ast.StringNode); ok && isVars(x.Node) {
				add(x.Node, name.Value, "vars."+name.Value, "vars."+name.Value+" is always nil")
			}
		case *ast.BinaryNode:
			if name, ok := x.Left.(*ast.StringNode); ok && x.Operator == "in" && isVars(x.Right) {
				add(x.Left, name.Value, "'"+name.Value+"' in vars", "it is always false")
			}
		}
	}))
}

// visitor calls a function on every node of an expression's syntax tree.
type visitor func(ast.Node)

// Visit implements ast.Visitor.
func (v visitor) Visit(n *ast.Node) { v(*n) }

// byteOffset converts an offset in runes into src to one in bytes.
func byteOffset(src string, runes int) int {
	for i := range src {
		if runes <= 0 {
			return i
		}
		runes--
	}
	return len(src)
}

// scalarPos is the file position of the byte offset off within the value of the YAML scalar n.
// A quoted scalar's text starts after its quote; a block scalar's on the line after its
// indicator, at the block's indentation. (Escapes in quoted scalars and the folding of
// multi-line flow and folded scalars are not undone: positions there are approximate.)
func (c compiler) scalarPos(n *yaml.Node, off int) Pos {
	if n == nil {
		return Pos{}
	}
	v := n.Value
	off = min(max(off, 0), len(v))
	before := v[:off]
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
		col := n.Column + utf8.RuneCountInString(before)
		if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			col++
		}
		return Pos{n.Line, col}
	}
	line := n.Line + 1
	if n.Style&yaml.LiteralStyle != 0 {
		line += strings.Count(before, "\n")
	}
	start := strings.LastIndexByte(before, '\n') + 1
	return Pos{line, c.blockIndent(n) + 1 + utf8.RuneCountInString(before[start:])}
}

// blockIndent is the indentation of the block scalar n's text: that of its first non-blank
// line in the source, or a guess when the source is unknown.
func (c compiler) blockIndent(n *yaml.Node) int {
	lines := strings.Split(string(c.src), "\n")
	for i := n.Line; i < len(lines); i++ { // lines[n.Line] is the line after the indicator
		if l := strings.TrimRight(lines[i], " \t\r"); l != "" {
			return len(l) - len(strings.TrimLeft(l, " "))
		}
	}
	return n.Column + 1
}

// exprMsg is expr's message without its source snippet, which the position replaces, with the
// environment's Go type names replaced by the names authors write, and with the name meant when
// an unknown name or field is a typo of one.
func exprMsg(err error, vars map[string]bool) string {
	m := err.Error()
	var fe *file.Error
	if errors.As(err, &fe) {
		m = fe.Message
	}
	m = envTypeNames.Replace(m)
	if s := unknownNameRE.FindStringSubmatch(m); s != nil {
		m += unknownNameHint(s[1], vars)
	} else if s := noFieldRE.FindStringSubmatch(m); s != nil {
		m += suggest.DidYouMean(s[2], envFields[s[1]])
	}
	return m
}

// unknownNameHint suggests what an unknown bare name in an expression stands for: a variable,
// read as vars.NAME (the name as written or the variable it misspells), or a name of the
// environment it misspells.
func unknownNameHint(name string, vars map[string]bool) string {
	if vars[name] {
		return fmt.Sprintf("; variables are read as vars.NAME: did you mean \"vars.%s\"?", name)
	}
	if s := suggest.DidYouMean(name, envFields[""]); s != "" {
		return s
	}
	if v := suggest.Closest(name, slices.Sorted(maps.Keys(vars))); v != "" {
		return fmt.Sprintf("; variables are read as vars.NAME: did you mean \"vars.%s\"?", v)
	}
	return ""
}

var (
	unknownNameRE = regexp.MustCompile(`^unknown name (\w+)$`)
	noFieldRE     = regexp.MustCompile(`^(\w+) has no field (\w+)$`)
)

// envFields lists the names expressions can use, read from Env's expr tags: the top-level names
// under "", and the fields of each of them that is a struct under its name.
var envFields = func() map[string][]string {
	fields := map[string][]string{}
	tags := func(t reflect.Type) []string {
		var names []string
		for f := range t.Fields() {
			if tag := f.Tag.Get("expr"); tag != "" {
				names = append(names, tag)
			}
		}
		return names
	}
	env := reflect.TypeFor[Env]()
	fields[""] = slices.DeleteFunc(tags(env), func(s string) bool { return s == "ctx" })
	for f := range env.Fields() {
		if f.Type.Kind() == reflect.Struct {
			fields[f.Tag.Get("expr")] = tags(f.Type)
		}
	}
	return fields
}()

// envTypeNames turns "type engine.ButtonEnv has no field idd" into "button has no field idd".
var envTypeNames = strings.NewReplacer(
	"type engine.MessageEnv", "message", "type engine.ButtonEnv", "button",
	"type engine.ListEnv", "list", "type engine.LocationEnv", "location",
	"type engine.MediaEnv", "media", "type engine.ContactEnv", "contact",
	"engine.MessageEnv", "message", "engine.ButtonEnv", "button", "engine.ListEnv", "list",
	"engine.LocationEnv", "location", "engine.MediaEnv", "media", "engine.ContactEnv", "contact",
)

// evalBool runs a compiled boolean expression; a runtime error counts as false and is traced.
func (r *run) evalBool(p *vm.Program, where string) bool {
	v, err := r.eval(p)
	if errors.Is(err, errBudget) {
		return false
	}
	if err != nil {
		r.tracef(TraceError, where, "expression failed: %v", err)
		return false
	}
	b, _ := v.(bool)
	return b
}

// text is a string with {{ }} interpolations, compiled once.
type text struct {
	raw   string
	parts []part
}

// part is a literal, a vars lookup or a compiled expression.
type part struct {
	lit  string
	name string // vars lookup for {{name}}
	prog *vm.Program
	src  string
	off  int // byte offset of the part's {{ in the text, for positions
}

// literal reports whether p is plain text rather than an interpolation.
func (p part) literal() bool { return p.name == "" && p.prog == nil }

// compileText compiles the interpolations in s. n is the YAML scalar s came from.
func (c compiler) text(s string, n *yaml.Node, what string) text {
	t := text{raw: s}
	rest := s
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			break
		}
		j := strings.Index(rest[i:], "}}")
		if j < 0 {
			c.d.errorf(nodePos(n), "%s: unclosed {{ in %q", what, s)
			return t
		}
		if i > 0 {
			t.parts = append(t.parts, part{lit: rest[:i]})
		}
		src := strings.TrimSpace(rest[i+2 : i+j])
		switch {
		case src == "":
			c.d.errorf(nodePos(n), "%s: empty {{ }}", what)
		case isIdent(src) && !envNames[src]:
			t.parts = append(t.parts, part{name: src, src: src, off: len(s) - len(rest) + i})
			if c.reads != nil {
				inner := rest[i+2 : i+j]
				off := len(s) - len(rest) + i + 2 + len(inner) - len(strings.TrimLeftFunc(inner, unicode.IsSpace))
				*c.reads = append(*c.reads, varRead{d: c.d, pos: c.scalarPos(n, off), name: src, what: what + ": {{ " + src + " }}", then: "it always renders empty"})
			}
		default:
			// Errors point into the expression: src starts off bytes into the scalar.
			inner := rest[i+2 : i+j]
			off := len(s) - len(rest) + i + 2 + len(inner) - len(strings.TrimLeftFunc(inner, unicode.IsSpace))
			if p := c.compile(src, n, off, what+": {{ "+src+" }}"); p != nil {
				t.parts = append(t.parts, part{prog: p, src: src, off: len(s) - len(rest) + i})
			}
		}
		rest = rest[i+j+2:]
	}
	if rest != "" {
		t.parts = append(t.parts, part{lit: rest})
	}
	return t
}

// render interpolates t. Missing variables render empty and are noted in the trace.
func (r *run) render(t text) string {
	if len(t.parts) == 1 && t.parts[0].literal() {
		return t.parts[0].lit
	}
	var b strings.Builder
	b.Grow(len(t.raw) + 32)
	for _, p := range t.parts {
		b.WriteString(r.renderPart(p))
	}
	return b.String()
}

// renderPart is the text of one part: a literal as written, an interpolation's value
// formatted and cut to limits.value_length, or nothing (noted in the trace) when it is
// missing or fails.
func (r *run) renderPart(p part) string {
	if p.literal() {
		return p.lit
	}
	return r.capValue(p.src, format(r.partValue(p)))
}

// partValue is the value of an interpolation, or nil (noted in the trace) when it is missing
// or fails.
func (r *run) partValue(p part) any {
	switch {
	case p.name != "":
		v, ok := r.st.Vars[p.name]
		if !ok {
			r.tracef(TraceMissingVar, r.nodeID(), "{{%s}} is not set", p.name)
			return nil
		}
		return v
	case p.prog != nil:
		v, err := r.eval(p.prog)
		if errors.Is(err, errBudget) {
			return nil
		}
		if err != nil {
			r.tracef(TraceError, r.nodeID(), "{{ %s }}: %v", p.src, err)
			return nil
		}
		if v == nil {
			r.tracef(TraceMissingVar, r.nodeID(), "{{ %s }} is empty", p.src)
		}
		return v
	}
	return nil
}

// format renders a value as text: whole floats without a fraction, nil as nothing.
func format(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case urlPathValue:
		return string(x)
	case rawURLValue:
		return string(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case bool:
		return strconv.FormatBool(x)
	case map[string]any, []any:
		if b, err := json.Marshal(x); err == nil {
			return string(b)
		}
	}
	return fmt.Sprint(v)
}

func isIdent(s string) bool {
	for i, r := range s {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9' {
			continue
		}
		return false
	}
	return s != ""
}

func nodePos(n *yaml.Node) Pos {
	if n == nil {
		return Pos{}
	}
	return Pos{n.Line, n.Column}
}
