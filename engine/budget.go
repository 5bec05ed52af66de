package engine

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"

	"github.com/flowgate/flowgate/engine/msg"
)

// Defaults of the expression budget (limits.expr_time and limits.expr_memory).
const (
	DefaultExprTime   = 500 * time.Millisecond
	DefaultExprMemory = 16 << 20
	// DefaultValueLength is limits.value_length's default: as much as four WhatsApp texts.
	DefaultValueLength = 16384
	// DefaultTextParts is limits.text_parts's default.
	DefaultTextParts = 4
)

// budget is what the expressions of one run may still spend: bytes of strings and lists they
// build, counted across the run, and time, counted per expression from its first charge. It is
// the context the charging functions get (Env.Ctx): the run's own, with the budget on it.
type budget struct {
	context.Context // the run's
	timeout         time.Duration
	limit           int
	used            int
	// deadline ends the running expression; made at its first charge, so that expressions
	// that build nothing cost nothing.
	deadline context.Context
	cancel   context.CancelFunc
	// steps counts the running expression's charges: its time is checked only after
	// timedAfter of them.
	steps int
	// over is why the budget ran out, once it has: the run ends.
	over string
}

// timedAfter is how many charges an expression makes before limits.expr_time applies to it.
// A normal expression makes a few (one per + on strings, per building builtin, per element a
// closure visits), so a machine that stalls while one runs (a loaded host, a paused VM) cannot
// end it; one that runs away makes thousands within its first milliseconds.
const timedAfter = 1000

// errBudget marks an expression stopped by its budget.
var errBudget = errors.New("expression budget exceeded")

// charge spends n bytes of the run's budget, when ctx is one, and checks the expression's
// deadline once it has made timedAfter charges.
func charge(ctx context.Context, n int) error {
	b, ok := ctx.(*budget)
	if !ok {
		return nil
	}
	if b.deadline == nil {
		b.deadline, b.cancel = context.WithTimeout(b.Context, b.timeout)
	}
	b.steps++
	if b.steps > timedAfter && b.deadline.Err() != nil {
		if b.over == "" {
			b.over = "limits.expr_time"
		}
		return fmt.Errorf("%w: it ran longer than limits.expr_time", errBudget)
	}
	b.used += n
	if b.used > b.limit {
		if b.over == "" {
			b.over = "limits.expr_memory"
		}
		return fmt.Errorf("%w: the event's expressions built more than %d bytes (limits.expr_memory)", errBudget, b.limit)
	}
	return nil
}

// done ends the running expression's deadline.
func (b *budget) done() {
	if b.cancel != nil {
		b.cancel()
		b.deadline, b.cancel = nil, nil
	}
	b.steps = 0
}

// size is roughly how many bytes v takes: strings by their length, lists and maps by their
// elements. It is what an expression pays for a value it builds or hands to a function.
func size(v any) int {
	switch x := v.(type) {
	case string:
		return len(x)
	case []any:
		n := 16 * len(x)
		for _, e := range x {
			n += size(e)
		}
		return n
	case map[string]any:
		n := 32 * len(x)
		for k, e := range x {
			n += len(k) + size(e)
		}
		return n
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array {
		n := 16 * rv.Len()
		for i := range rv.Len() {
			n += size(rv.Index(i).Interface())
		}
		return n
	}
	return 8
}

// budgetPatch rewrites an expression so that it pays for what it builds and sees its deadline:
// every + that may join strings, the arguments of the builtins that build a value as large as
// them (join, toJSON, upper, concat...) and every closure's body (one pass of map, filter,
// reduce...) go through a function that charges the run's budget. What else expressions do
// builds nothing large, or is bounded by expr's own limit on the elements they create.
type budgetPatch struct{}

// buildingBuiltins are the builtins whose result is about as large as their arguments.
var buildingBuiltins = map[string]bool{
	"string": true, "trim": true, "trimPrefix": true, "trimSuffix": true, "upper": true, "lower": true,
	"split": true, "splitAfter": true, "join": true, "toJSON": true, "fromJSON": true, "keys": true,
	"values": true, "toPairs": true, "fromPairs": true, "reverse": true, "uniq": true, "concat": true,
	"flatten": true, "sort": true, "toBase64": true, "fromBase64": true,
}

// Visit rewrites one node; ast.Walk calls it children first.
func (budgetPatch) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.BinaryNode:
		if n.Operator != "+" || isNumber(n.Left.Type()) && isNumber(n.Right.Type()) {
			return
		}
		ast.Patch(node, costCall("$cost", n))
	case *ast.BuiltinNode:
		for _, a := range n.Arguments {
			if c, ok := a.(*ast.PredicateNode); ok {
				c.Node = costCall("$tick", c.Node)
			}
		}
		chargeArgs(buildingBuiltins[n.Name], n.Arguments)
	case *ast.CallNode:
		id, ok := n.Callee.(*ast.IdentifierNode)
		chargeArgs(ok && buildingBuiltins[id.Value], n.Arguments)
	}
}

// chargeArgs makes each argument that is not a constant pay for its size, when building.
func chargeArgs(building bool, args []ast.Node) {
	if !building {
		return
	}
	for i, a := range args {
		if !isConstant(a) {
			args[i] = costCall("$arg", a)
		}
	}
}

func costCall(fn string, arg ast.Node) *ast.CallNode {
	return &ast.CallNode{Callee: &ast.IdentifierNode{Value: fn}, Arguments: []ast.Node{arg}}
}

func isNumber(t reflect.Type) bool {
	if t == nil {
		return false
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint,
		reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

func isConstant(n ast.Node) bool {
	switch n.(type) {
	case *ast.IntegerNode, *ast.FloatNode, *ast.StringNode, *ast.BoolNode, *ast.NilNode, *ast.ConstantNode:
		return true
	}
	return false
}

// budgetOptions are the compile options that put expressions on the run's budget, and the
// helpers that replace expr's builtins which can build large strings from small arguments.
func budgetOptions() []expr.Option {
	pass := func(name string, cost func(v any) int) expr.Option {
		return expr.Function(name, func(params ...any) (any, error) {
			ctx, _ := params[0].(context.Context)
			if ctx == nil {
				return params[1], nil
			}
			return params[1], charge(ctx, cost(params[1]))
		}, new(func(context.Context, any) any))
	}
	return []expr.Option{
		expr.Patch(budgetPatch{}),
		pass("$cost", size),
		pass("$arg", size),
		pass("$tick", func(any) int { return 1 }),
		expr.DisableBuiltin("repeat"),
		expr.Function("repeat", repeatFn, new(func(context.Context, string, int) string)),
		expr.DisableBuiltin("replace"),
		expr.Function("replace", replaceFn, new(func(context.Context, string, string, string) string)),
		expr.WithContext("ctx"),
	}
}

// repeatFn is expr's repeat(s, n), paid for before the string is built.
func repeatFn(params ...any) (any, error) {
	ctx, s, n := params[0].(context.Context), params[1].(string), params[2].(int)
	if n < 0 {
		return nil, fmt.Errorf("repeat: negative count %d", n)
	}
	if n > 0 && len(s) > (1<<40)/n {
		return nil, charge(ctx, 1<<40)
	}
	if err := charge(ctx, len(s)*n); err != nil {
		return nil, err
	}
	return strings.Repeat(s, n), nil
}

// replaceFn is expr's replace(s, old, new), paid for before the string is built.
func replaceFn(params ...any) (any, error) {
	ctx, s, old, nw := params[0].(context.Context), params[1].(string), params[2].(string), params[3].(string)
	n := strings.Count(s, old)
	if old == "" {
		n = utf8.RuneCountInString(s) + 1
	}
	if err := charge(ctx, len(s)+n*len(nw)); err != nil {
		return nil, err
	}
	return strings.ReplaceAll(s, old, nw), nil
}

// eval runs a compiled expression within the run's budget: with limits.expr_time to run and
// what is left of limits.expr_memory. An expression stopped by the budget ends the run: the
// trace says which limit, and exec stops before the next node.
func (r *run) eval(p *vm.Program) (any, error) {
	r.env.Ctx = &r.budget
	v, err := r.vm.Run(p, &r.env)
	r.env.Ctx = nil
	r.budget.done()
	if err != nil && r.budget.over == "" && strings.Contains(err.Error(), "memory budget exceeded") {
		r.budget.over = "limits.expr_memory"
	}
	if err != nil && r.budget.over != "" {
		if !r.overTraced {
			r.overTraced = true
			r.tracef(TraceBudget, r.nodeID(), "run ended: an expression went over %s (%s)", r.budget.over, r.budget.limitText(r.e.settings))
		}
		return nil, errBudget
	}
	return v, err
}

// limitText says what the limit that ran out allows.
func (b *budget) limitText(s Settings) string {
	if b.over == "limits.expr_time" {
		return fmt.Sprintf("%s for one expression", s.exprTime())
	}
	return fmt.Sprintf("%d bytes built in one event", b.limit)
}

// exprTime is limits.expr_time, or its default.
func (s Settings) exprTime() time.Duration { return orDefault(s.MaxExprTime, DefaultExprTime) }

// exprMemory is limits.expr_memory, or its default.
func (s Settings) exprMemory() int { return orDefault(s.MaxExprMemory, DefaultExprMemory) }

// valueLength is limits.value_length, or its default.
func (s Settings) valueLength() int { return orDefault(s.MaxValueLength, DefaultValueLength) }

// textParts is limits.text_parts, or its default.
func (s Settings) textParts() int { return orDefault(s.MaxTextParts, DefaultTextParts) }

// orDefault is v when it is set (positive), else def.
func orDefault[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

// capValue cuts an interpolated value to limits.value_length, noting it in the trace; the
// http node that rendered it then fails rather than send a cut value.
func (r *run) capValue(src, v string) string {
	limit := r.e.settings.valueLength()
	if len(v) <= limit || utf8.RuneCountInString(v) <= limit {
		return v
	}
	r.valueCut = true
	r.tracef(TraceLimit, r.nodeID(), "{{ %s }} cut to %d characters (limits.value_length): it had %d", src, limit, utf8.RuneCountInString(v))
	return cut(v, limit)
}

// capText bounds a text the channel splits into several messages: it may become at most
// limits.text_parts of them. A longer text is cut, ending with …, and the trace says so; the
// channel is told the bound too, as its split may need a part more than the length suggests.
func (r *run) capText(t *msg.Text, l msg.Limits) {
	if l.Text <= 0 {
		return
	}
	n := utf8.RuneCountInString(t.Body)
	if l.TextBytes {
		n = len(t.Body)
	}
	if n <= l.Text {
		return
	}
	parts := r.e.settings.textParts()
	t.MaxParts = parts
	if n <= parts*l.Text {
		return
	}
	if l.TextBytes {
		t.Body = cutBytes(t.Body, parts*l.Text)
	} else {
		t.Body = cut(t.Body, parts*l.Text)
	}
	r.tracef(TraceLimit, r.nodeID(), "text of %d characters cut to %d: more than %d messages (limits.text_parts)", n, parts*l.Text, parts)
}

// cutBytes shortens s to at most limit bytes on a character boundary, ending it with ….
func cutBytes(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	end := max(limit-len("…"), 0)
	for end > 0 && !utf8.RuneStart(s[end]) {
		end--
	}
	return s[:end] + "…"
}

// urlPathValue is a value urlPath marked as a path of several segments: in an http node's URL
// path its slashes are kept and each segment is escaped on its own.
type urlPathValue string

// rawURLValue is a value rawURL marked to go into an http node's URL unescaped.
type rawURLValue string

// formatting maps the characters WhatsApp reads as formatting to look-alikes it does not.
var formatting = strings.NewReplacer("*", "\u2217", "_", "\u02cd", "~", "\u223c", "`", "\u02cb")

// helperOptions are the expression helpers for values that need other treatment than the
// default escaping: urlPath, rawURL and escapeFormatting (docs/flow-format.md).
func helperOptions() []expr.Option {
	str := func(v any) string { return format(v) }
	return []expr.Option{
		expr.Function("urlPath", func(p ...any) (any, error) { return urlPathValue(str(p[0])), nil }, new(func(any) string)),
		expr.Function("rawURL", func(p ...any) (any, error) { return rawURLValue(str(p[0])), nil }, new(func(any) string)),
		expr.Function("escapeFormatting", func(p ...any) (any, error) { return formatting.Replace(str(p[0])), nil }, new(func(any) string)),
	}
}

// costlyExpr is a part of an expression whose cost grows with what users send, or faster than
// its input: validation warns about it. at is its offset in the expression, in characters.
type costlyExpr struct {
	at  int
	why string
}

// costWatch finds the costly parts of an expression as it compiles; it changes nothing.
type costWatch struct{ found *[]costlyExpr }

// largeRange is the size from which a range of constant bounds is warned about.
const largeRange = 10000

// Visit looks at one node.
func (w costWatch) Visit(node *ast.Node) {
	add := func(n ast.Node, why string) {
		*w.found = append(*w.found, costlyExpr{at: n.Location().From, why: why})
	}
	switch n := (*node).(type) {
	case *ast.BinaryNode:
		if n.Operator != ".." {
			return
		}
		from, okF := n.Left.(*ast.IntegerNode)
		to, okT := n.Right.(*ast.IntegerNode)
		switch {
		case !okF || !okT:
			add(n, "a range whose bounds are computed: if event data sets them, every event can ask for millions of steps (limits.expr_memory ends such a run)")
		case to.Value-from.Value >= largeRange:
			add(n, fmt.Sprintf("a range of %d elements: each event pays for all of them (limits.expr_memory ends such a run)", to.Value-from.Value+1))
		}
	case *ast.CallNode:
		if id, ok := n.Callee.(*ast.IdentifierNode); ok && id.Value == "repeat" && len(n.Arguments) == 2 &&
			(!isConstant(n.Arguments[0]) || !isConstant(n.Arguments[1])) {
			add(n, "repeat of computed values: its result is as long as its text times its count, and grows with what users send (limits.expr_memory ends such a run)")
		}
	case *ast.BuiltinNode:
		numeric := len(n.Arguments) == 3 && isNumberNode(n.Arguments[2])
		if n.Name == "reduce" && len(n.Arguments) >= 2 && !numeric && accJoins(n.Arguments[1]) {
			add(n, "reduce that joins strings onto #acc copies the accumulator at every step: its cost grows with the square of the list (limits.expr_memory ends such a run); use join(map(...)) instead")
		}
	}
}

// accJoins reports whether a reduce body adds something to #acc with +.
func accJoins(body ast.Node) bool {
	found := false
	ast.Walk(&body, visitFunc(func(n *ast.Node) {
		if b, ok := (*n).(*ast.BinaryNode); ok && b.Operator == "+" {
			if p, ok := b.Left.(*ast.PointerNode); ok && p.Name == "acc" {
				found = found || !isNumber(b.Type()) && !isNumberNode(b.Right)
			}
		}
	}))
	return found
}

// isNumberNode reports whether n is a number: a literal or of a numeric type.
func isNumberNode(n ast.Node) bool {
	switch n.(type) {
	case *ast.IntegerNode, *ast.FloatNode:
		return true
	}
	return isNumber(n.Type())
}

// visitFunc is a function as an ast.Visitor.
type visitFunc func(*ast.Node)

// Visit calls f.
func (f visitFunc) Visit(n *ast.Node) { f(n) }
