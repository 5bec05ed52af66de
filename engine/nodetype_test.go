package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
)

const flowSchemaFile = "../schema/flow.schema.json"

// TestFlowSchemaMatchesNodeTypes: schema/flow.schema.json describes exactly the registered node
// types: the node's type enum, one config rule per type, the types that take no next, and for
// each type the registered schema of its config, whose properties are the fields its config
// decodes. go test -update rewrites the schema's node parts from the registrations.
func TestFlowSchemaMatchesNodeTypes(t *testing.T) {
	data, err := os.ReadFile(flowSchemaFile)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := parseOrdered(data)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := parseOrdered(data)
	withNodeTypes(t, want)
	if *update {
		if err := os.WriteFile(flowSchemaFile, printOrdered(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got, exp := plain(t, doc), plain(t, want); !reflect.DeepEqual(got, exp) {
		for _, k := range sortedKeys(exp.(map[string]any)["$defs"].(map[string]any)) {
			g, e := got.(map[string]any)["$defs"].(map[string]any)[k], exp.(map[string]any)["$defs"].(map[string]any)[k]
			if !reflect.DeepEqual(g, e) {
				t.Errorf("%s: $defs.%s differs from the node type registrations (go test -update rewrites it)", flowSchemaFile, k)
			}
		}
		t.Errorf("%s differs from the node type registrations (go test -update rewrites it)", flowSchemaFile)
	}
	defs := plain(t, want).(map[string]any)["$defs"].(map[string]any)
	for _, name := range NodeTypes() {
		nt := nodeTypes[name]
		t.Run(name, func(t *testing.T) {
			props, required := configProperties(defs, defs[nt.schemaDef].(map[string]any))
			fields := yamlFields(nt.configType)
			if !slices.Equal(sortedKeys(props), fields) {
				t.Errorf("%s: the schema's properties %v, the %s fields %v", nt.schemaDef, sortedKeys(props), nt.configType, fields)
			}
			for _, r := range required {
				if !slices.Contains(fields, r) {
					t.Errorf("%s requires %q, which %s does not have", nt.schemaDef, r, nt.configType)
				}
			}
		})
	}
}

// withNodeTypes returns doc with its node parts made from the registrations: each config's
// $defs entry, the node's type enum, and the node's rules (config by type; no next).
func withNodeTypes(t *testing.T, doc *ordered) *ordered {
	defs := doc.get("$defs").(*ordered)
	node := defs.get("node").(*ordered)
	typ := node.get("properties").(*ordered).get("type").(*ordered)
	var enum, noNext []any
	var rules []any
	for _, name := range NodeTypes() {
		nt := nodeTypes[name]
		frag, err := parseOrdered([]byte(nt.schema))
		if err != nil {
			t.Fatalf("node type %s: schema: %v", name, err)
		}
		defs.set(nt.schemaDef, frag)
		enum = append(enum, name)
		if nt.noNext {
			noNext = append(noNext, name)
		}
		then := &ordered{}
		if nt.configType.NumField() > 0 {
			then.set("required", []any{"config"})
		}
		then.set("properties", obj("config", obj("$ref", "#/$defs/"+nt.schemaDef)))
		rules = append(rules, obj("if", obj("properties", obj("type", obj("const", name)), "required", []any{"type"}), "then", then))
	}
	rules = append(rules, obj("if", obj("properties", obj("type", obj("enum", noNext)), "required", []any{"type"}), "then", obj("properties", obj("next", false))))
	typ.set("enum", enum)
	node.set("allOf", rules)
	return doc
}

// configProperties returns a config schema's properties and required fields, following a
// $ref to another definition (the template node's config is a template).
func configProperties(defs, s map[string]any) (map[string]any, []string) {
	if ref, ok := s["$ref"].(string); ok {
		return configProperties(defs, defs[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any))
	}
	props, _ := s["properties"].(map[string]any)
	var required []string
	if rs, ok := s["required"].([]any); ok {
		for _, r := range rs {
			required = append(required, r.(string))
		}
	}
	return props, required
}

// yamlFields lists the YAML keys a config struct decodes, sorted.
func yamlFields(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if f.IsExported() && name != "-" && name != "" {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// plain turns an ordered document into the maps and slices encoding/json decodes, to compare.
func plain(t *testing.T, o *ordered) any {
	var v any
	if err := json.Unmarshal(printOrdered(o), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func sortedKeys(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }

// ordered is a JSON object that keeps its keys in order, so that rewriting the schema changes
// only what changed. Values are *ordered, []any, string, json.Number, bool or nil.
type ordered struct {
	keys []string
	vals map[string]any
}

func obj(kv ...any) *ordered {
	o := &ordered{}
	for i := 0; i+1 < len(kv); i += 2 {
		o.set(kv[i].(string), kv[i+1])
	}
	return o
}

func (o *ordered) get(k string) any { return o.vals[k] }

func (o *ordered) set(k string, v any) {
	if o.vals == nil {
		o.vals = map[string]any{}
	}
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

func parseOrdered(data []byte) (*ordered, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := parseValue(dec)
	if err != nil {
		return nil, err
	}
	o, ok := v.(*ordered)
	if !ok {
		return nil, fmt.Errorf("not a JSON object")
	}
	return o, nil
}

func parseValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		o := &ordered{vals: map[string]any{}}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			v, err := parseValue(dec)
			if err != nil {
				return nil, err
			}
			o.set(k.(string), v)
		}
		_, err := dec.Token()
		return o, err
	case json.Delim('['):
		l := []any{}
		for dec.More() {
			v, err := parseValue(dec)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		_, err := dec.Token()
		return l, err
	}
	return tok, nil
}

// printOrdered writes o as the schema files are written: two-space indentation, one member or
// element per line, non-ASCII text as it is.
func printOrdered(o *ordered) []byte {
	var b bytes.Buffer
	printValue(&b, o, "")
	b.WriteByte('\n')
	return b.Bytes()
}

func printValue(b *bytes.Buffer, v any, indent string) {
	in := indent + "  "
	switch x := v.(type) {
	case *ordered:
		if len(x.keys) == 0 {
			b.WriteString("{}")
			return
		}
		b.WriteString("{\n")
		for i, k := range x.keys {
			b.WriteString(in)
			printString(b, k)
			b.WriteString(": ")
			printValue(b, x.vals[k], in)
			if i < len(x.keys)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "}")
	case []any:
		if len(x) == 0 {
			b.WriteString("[]")
			return
		}
		b.WriteString("[\n")
		for i, e := range x {
			b.WriteString(in)
			printValue(b, e, in)
			if i < len(x)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "]")
	case string:
		printString(b, x)
	default:
		j, _ := json.Marshal(x)
		b.Write(j)
	}
}

func printString(b *bytes.Buffer, s string) {
	var e bytes.Buffer
	enc := json.NewEncoder(&e)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	b.Write(bytes.TrimSuffix(e.Bytes(), []byte("\n")))
}
