package engine

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"time"
)

// Storable returns v as a conversation variable keeps it, so that it reads the same after the
// state is stored and loaded again (across a wait at an input node, for example). A variable
// keeps nil, bool, int, float64, string, time.Duration, time.Time, []any and map[string]any,
// nested up to 64 levels. Other integer and float types become int and float64, other slices
// and arrays []any, and maps with string keys map[string]any, element by element. Anything
// else (structs, pointers, functions, named types such as time.Month, a map with other keys,
// an unsigned value beyond int) is an error: a variable is never silently changed.
func Storable(v any) (any, error) {
	return storable(v, 0)
}

func storable(v any, depth int) (any, error) {
	if depth > maxDepth {
		return nil, errTooDeep
	}
	switch x := v.(type) {
	case nil, bool, int, float64, string, time.Duration, time.Time:
		return v, nil
	case int64:
		return int(x), nil
	case urlPathValue: // a helper's marked value is kept as the text it is
		return string(x), nil
	case rawURLValue:
		return string(x), nil
	case []any:
		var out []any // a copy, made at the first element that changes
		for i, el := range x {
			s, err := storable(el, depth+1)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			if out == nil && !same(s, el) {
				out = append(make([]any, 0, len(x)), x[:i]...)
			}
			if out != nil {
				out = append(out, s)
			}
		}
		if out != nil {
			return out, nil
		}
		return x, nil
	case map[string]any:
		var out map[string]any
		for k, el := range x {
			s, err := storable(el, depth+1)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			if out == nil && !same(s, el) {
				out = make(map[string]any, len(x))
				for k2, el2 := range x {
					out[k2] = el2
				}
			}
			if out != nil {
				out[k] = s
			}
		}
		if out != nil {
			return out, nil
		}
		return x, nil
	}
	return storableReflect(reflect.ValueOf(v), depth)
}

// KeepVar returns v as a conversation variable keeps it (see Storable), or an error when it
// is beyond the bundle's variable limits: nested deeper than Settings.MaxVarDepth levels of
// lists and maps, or over Settings.MaxVarBytes bytes in the stored state. Every variable
// passes here before it is set, so a state always encodes and decodes.
func (e *Engine) KeepVar(v any) (any, error) {
	maxDepth, maxBytes := e.settings.varLimits()
	s, err := Storable(v)
	if errors.Is(err, errTooDeep) {
		return nil, fmt.Errorf("nested more than %d levels deep, more than the %d allowed (limits.var_depth)", MaxVarDepthLimit, maxDepth)
	}
	if err != nil {
		return nil, err
	}
	if d := nesting(s); d > maxDepth {
		return nil, fmt.Errorf("nested %d levels deep, more than the %d allowed (limits.var_depth)", d, maxDepth)
	}
	var enc encoder
	if err := enc.value(s, 0); err != nil {
		return nil, err
	}
	if len(enc.b) > maxBytes {
		return nil, fmt.Errorf("%d bytes, more than the %d allowed (limits.var_bytes)", len(enc.b), maxBytes)
	}
	return s, nil
}

// varLimits are the variable limits in effect, defaults for those not set.
func (s Settings) varLimits() (depth, bytes int) {
	depth, bytes = s.MaxVarDepth, s.MaxVarBytes
	if depth <= 0 || depth > MaxVarDepthLimit {
		depth = min(DefaultMaxVarDepth, MaxVarDepthLimit)
	}
	if bytes <= 0 {
		bytes = DefaultMaxVarBytes
	}
	return depth, bytes
}

// nesting is how deep lists and maps nest in a value Storable returned: 0 for a scalar, 1 for
// a list of scalars.
func nesting(v any) int {
	d := 0
	switch x := v.(type) {
	case []any:
		for _, el := range x {
			d = max(d, nesting(el))
		}
	case map[string]any:
		for _, el := range x {
			d = max(d, nesting(el))
		}
	default:
		return 0
	}
	return d + 1
}

// same reports whether storable left a value as it was: its result has the value's type.
// (Lists and maps it copied have the same type too; their elements were compared already.)
func same(s, v any) bool {
	switch s.(type) {
	case []any, map[string]any:
		return reflect.ValueOf(s).Pointer() == reflect.ValueOf(v).Pointer() && reflect.TypeOf(v) == reflect.TypeOf(s)
	}
	return reflect.TypeOf(s) == reflect.TypeOf(v)
}

func storableReflect(rv reflect.Value, depth int) (any, error) {
	t := rv.Type()
	named := t.PkgPath() != "" // time.Month, an enum of some package: its meaning is its own
	switch k := t.Kind(); {
	case named:
	case k >= reflect.Int && k <= reflect.Int64:
		return int(rv.Int()), nil
	case k >= reflect.Uint && k <= reflect.Uintptr:
		if u := rv.Uint(); u <= math.MaxInt {
			return int(u), nil
		}
		return nil, fmt.Errorf("%d is too large for an integer variable", rv.Uint())
	case k == reflect.Float32:
		return rv.Float(), nil
	case k == reflect.Slice || k == reflect.Array:
		if k == reflect.Slice && rv.IsNil() {
			return nil, nil
		}
		out := make([]any, rv.Len())
		for i := range out {
			s, err := storable(rv.Index(i).Interface(), depth+1)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = s
		}
		return out, nil
	case k == reflect.Map:
		if rv.IsNil() {
			return nil, nil
		}
		out := make(map[string]any, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			key, ok := it.Key().Interface().(string)
			if !ok {
				return nil, fmt.Errorf("a map with %s keys cannot be kept in a variable: its keys must be strings", kindName(it.Key()))
			}
			s, err := storable(it.Value().Interface(), depth+1)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
			out[key] = s
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s cannot be kept in a variable (it keeps strings, numbers, booleans, lists, maps, durations and times)", typeName(t))
}

// kindName names the dynamic type of a map key for an error.
func kindName(v reflect.Value) string {
	if v.Kind() == reflect.Interface && !v.IsNil() {
		v = v.Elem()
	}
	return envTypeNames.Replace(v.Type().String())
}

// typeName names a type as authors know it: the environment's types by their names.
func typeName(t reflect.Type) string {
	return "a value of type " + envTypeNames.Replace(t.String())
}

// storableType reports whether an expression of static type t yields values Storable accepts;
// nil and interface types are known only when the expression runs. It explains a refusal.
func storableType(t reflect.Type) (bool, string) {
	return storableTypeDepth(t, 0)
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	timeType     = reflect.TypeFor[time.Time]()
)

func storableTypeDepth(t reflect.Type, depth int) (bool, string) {
	if t == nil || t.Kind() == reflect.Interface || t == durationType || t == timeType || depth > maxDepth {
		return true, ""
	}
	refuse := func() (bool, string) {
		why := typeName(t) + " cannot be kept in a variable (it keeps strings, numbers, booleans, lists, maps, durations and times)"
		switch k := t.Kind(); {
		case k == reflect.Struct:
			why += ": keep one of its fields"
		case k == reflect.String || k >= reflect.Int && k <= reflect.Float64:
			why += ": convert it with string(), int() or float()"
		}
		return false, why
	}
	if t.PkgPath() != "" {
		return refuse()
	}
	switch k := t.Kind(); {
	case k == reflect.Bool, k == reflect.String, k >= reflect.Int && k <= reflect.Uintptr, k == reflect.Float32, k == reflect.Float64:
		return true, ""
	case k == reflect.Slice || k == reflect.Array:
		return storableTypeDepth(t.Elem(), depth+1)
	case k == reflect.Map:
		if kk := t.Key().Kind(); kk != reflect.String && kk != reflect.Interface || t.Key().PkgPath() != "" {
			return false, fmt.Sprintf("a map with %s keys cannot be kept in a variable: its keys must be strings", t.Key())
		}
		return storableTypeDepth(t.Elem(), depth+1)
	}
	return refuse()
}
