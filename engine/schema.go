package engine

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"gopkg.in/yaml.v3"

	"github.com/flowgate/flowgate/internal/suggest"
	"github.com/flowgate/flowgate/schema"
)

// Schema checks YAML documents against one of the embedded JSON Schemas and reports
// violations at the YAML position of the offending value.
type Schema struct {
	s       *jsonschema.Schema
	doc     any // the schema as JSON, to name the alternatives of a oneOf
	printer *message.Printer
}

// CompileSchema compiles the embedded schema with the given file name, such as
// "flow.schema.json".
func CompileSchema(name string) (*Schema, error) {
	data, err := schema.Read(name)
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", name, err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", name, err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(name, doc); err != nil {
		return nil, fmt.Errorf("schema %s: %w", name, err)
	}
	s, err := c.Compile(name)
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", name, err)
	}
	return &Schema{s: s, doc: doc, printer: message.NewPrinter(language.English)}, nil
}

// Check validates the YAML document root and returns one diagnostic per violation.
func (s *Schema) Check(file string, root *yaml.Node) Diagnostics {
	var ds Diagnostics
	if p, err := checkAliases(root); err != nil {
		return Diagnostics{{File: file, Pos: p, Message: "invalid YAML: " + err.Error()}}
	}
	err := s.s.Validate(yamlValue(root))
	if err == nil {
		return nil
	}
	ve, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return Diagnostics{{File: file, Pos: Pos{1, 1}, Message: err.Error()}}
	}
	seen := map[string]bool{}
	s.collect(ve, root, func(p Pos, m string) {
		key := fmt.Sprint(p, m)
		if !seen[key] {
			seen[key] = true
			ds = append(ds, Diagnostic{File: file, Pos: p, Message: m})
		}
	})
	return ds
}

// collect walks the error tree down to the violations that explain it: leaves, and oneOf/anyOf
// groups, whose branches would only add noise.
func (s *Schema) collect(ve *jsonschema.ValidationError, root *yaml.Node, report func(Pos, string)) {
	switch k := ve.ErrorKind.(type) {
	case *kind.AdditionalProperties:
		known := s.properties(ve.SchemaURL)
		props := slices.Clone(k.Properties) // in the order written
		slices.SortFunc(props, func(a, b string) int {
			pa, pb := keyPos(root, append(ve.InstanceLocation, a)), keyPos(root, append(ve.InstanceLocation, b))
			return cmp.Or(cmp.Compare(pa.Line, pb.Line), cmp.Compare(pa.Col, pb.Col))
		})
		for _, p := range props {
			msg := fmt.Sprintf("%sunknown field %q", nodeWhere(root, ve.InstanceLocation), p)
			if hint := suggest.DidYouMean(p, known); hint != "" {
				msg += hint
			} else if len(known) > 0 {
				msg += " (fields: " + strings.Join(known, ", ") + ")"
			}
			report(keyPos(root, append(ve.InstanceLocation, p)), msg)
		}
		return
	case *kind.Required:
		for _, m := range k.Missing {
			report(valuePos(root, ve.InstanceLocation), fmt.Sprintf("%smissing required field %q", nodeWhere(root, ve.InstanceLocation), m))
		}
		return
	case *kind.FalseSchema:
		loc := ve.InstanceLocation
		if len(loc) > 0 {
			report(keyPos(root, loc), fmt.Sprintf("%sfield %q is not allowed here", nodeWhere(root, loc[:len(loc)-1]), loc[len(loc)-1]))
			return
		}
	case *kind.OneOf, *kind.AnyOf:
		report(valuePos(root, ve.InstanceLocation), nodeWhere(root, ve.InstanceLocation)+s.oneOfMessage(ve))
		return
	}
	if len(ve.Causes) == 0 {
		report(valuePos(root, ve.InstanceLocation), nodeWhere(root, ve.InstanceLocation)+ve.ErrorKind.LocalizedString(s.printer))
		return
	}
	for _, c := range ve.Causes {
		s.collect(c, root, report)
	}
}

// oneOfMessage explains a failed oneOf: when every branch failed only for a missing field, it
// lists the fields to choose from.
func (s *Schema) oneOfMessage(ve *jsonschema.ValidationError) string {
	if k, ok := ve.ErrorKind.(*kind.OneOf); ok && len(k.Subschemas) > 1 {
		var both []string
		for _, i := range k.Subschemas {
			both = append(both, s.required(ve.SchemaURL, i)...)
		}
		if len(both) == 0 {
			return "must match exactly one alternative, but matches several"
		}
		return "gives both " + strings.Join(both, " and ") + "; give only one"
	}
	var fields []string
	for _, c := range ve.Causes {
		r, ok := c.ErrorKind.(*kind.Required)
		if !ok || len(c.Causes) > 0 {
			return ve.ErrorKind.LocalizedString(s.printer)
		}
		fields = append(fields, r.Missing...)
	}
	if len(fields) == 0 {
		return ve.ErrorKind.LocalizedString(s.printer)
	}
	return "needs exactly one of " + strings.Join(fields, ", ")
}

// required lists the required fields of alternative i of the oneOf in the schema at url.
func (s *Schema) required(url string, i int) []string {
	list, _ := s.lookup(url, "oneOf", itoa(i), "required").([]any)
	var out []string
	for _, f := range list {
		if f, ok := f.(string); ok {
			out = append(out, f)
		}
	}
	return out
}

// properties lists, sorted, the fields the object schema at url defines.
func (s *Schema) properties(url string) []string {
	props, _ := s.lookup(url, "properties").(map[string]any)
	return slices.Sorted(maps.Keys(props))
}

// lookup follows the JSON pointer of url, then path, through the schema document; nil when
// they lead nowhere.
func (s *Schema) lookup(url string, path ...string) any {
	_, ptr, _ := strings.Cut(url, "#")
	v := s.doc
	var toks []string
	if ptr = strings.TrimPrefix(ptr, "/"); ptr != "" {
		toks = strings.Split(ptr, "/")
	}
	for _, t := range append(toks, path...) {
		switch x := v.(type) {
		case map[string]any:
			v = x[t]
		case []any:
			n, err := strconv.Atoi(t)
			if err != nil || n < 0 || n >= len(x) {
				return nil
			}
			v = x[n]
		default:
			return nil
		}
	}
	return v
}

// nodeWhere is where for a location in a flow, naming a node by its id rather than its index:
// "node "ask": config: " for nodes/3/config.
func nodeWhere(root *yaml.Node, loc []string) string {
	if len(loc) >= 2 && loc[0] == "nodes" {
		if _, id := lookup(root, []string{loc[0], loc[1], "id"}); id != nil && id.Kind == yaml.ScalarNode && id.Value != "" {
			return fmt.Sprintf("node %q: %s", id.Value, where(loc[2:]))
		}
	}
	return where(loc)
}

// where renders an instance location as a field path prefix: "nodes[2].config: ".
func where(loc []string) string {
	if len(loc) == 0 {
		return ""
	}
	var b strings.Builder
	for _, t := range loc {
		if _, err := strconv.Atoi(t); err == nil {
			b.WriteString("[" + t + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(t)
	}
	return b.String() + ": "
}

// lookup follows a JSON pointer's tokens through a YAML document. It returns the key node of the
// last mapping step (nil for sequence steps) and the value node; nil when the path is absent.
func lookup(n *yaml.Node, path []string) (key, val *yaml.Node) {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	val = n
	for _, t := range path {
		key = nil
		switch val.Kind {
		case yaml.MappingNode:
			var next *yaml.Node
			for i := 0; i+1 < len(val.Content); i += 2 {
				if val.Content[i].Value == t {
					key, next = val.Content[i], val.Content[i+1]
					break
				}
			}
			if next == nil {
				return nil, nil
			}
			val = next
		case yaml.SequenceNode:
			i, err := strconv.Atoi(t)
			if err != nil || i < 0 || i >= len(val.Content) {
				return nil, nil
			}
			val = val.Content[i]
		default:
			return nil, nil
		}
	}
	return key, val
}

// valuePos is the position of the value at path, or of the nearest ancestor that exists.
func valuePos(root *yaml.Node, path []string) Pos {
	for i := len(path); i >= 0; i-- {
		if _, v := lookup(root, path[:i]); v != nil {
			return Pos{v.Line, v.Column}
		}
	}
	return Pos{1, 1}
}

// keyPos is the position of the mapping key at path (where an unknown field is written).
func keyPos(root *yaml.Node, path []string) Pos {
	if k, _ := lookup(root, path); k != nil {
		return Pos{k.Line, k.Column}
	}
	return valuePos(root, path)
}

// maxYAMLNodes bounds the nodes a document may expand to through aliases: far more than any
// real file, few enough that an alias bomb is refused at once.
const maxYAMLNodes = 100000

// checkAliases refuses documents that yamlValue cannot expand: an alias inside the node it
// refers to (which would recurse forever) or aliases that multiply beyond maxYAMLNodes.
func checkAliases(root *yaml.Node) (Pos, error) {
	count := 0
	active := map[*yaml.Node]bool{}
	var walk func(n *yaml.Node) (Pos, error)
	walk = func(n *yaml.Node) (Pos, error) {
		if count++; count > maxYAMLNodes {
			return nodePos(n), fmt.Errorf("aliases expand the document beyond %d values", maxYAMLNodes)
		}
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			if active[n.Alias] {
				return nodePos(n), fmt.Errorf("alias *%s is used inside its own anchor", n.Value)
			}
			active[n.Alias] = true
			defer delete(active, n.Alias)
			return walk(n.Alias)
		}
		for _, c := range n.Content {
			if p, err := walk(c); err != nil {
				return p, err
			}
		}
		return Pos{}, nil
	}
	return walk(root)
}

// yamlValue converts a YAML node into the JSON-like value a schema validates: maps with string
// keys, slices, strings, float64 or int64 numbers, bools and nil.
func yamlValue(n *yaml.Node) any {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil
		}
		return yamlValue(n.Content[0])
	case yaml.AliasNode:
		return yamlValue(n.Alias)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			m[n.Content[i].Value] = yamlValue(n.Content[i+1])
		}
		return m
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, c := range n.Content {
			s[i] = yamlValue(c)
		}
		return s
	}
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool":
		var b bool
		if n.Decode(&b) == nil {
			return b
		}
	case "!!int", "!!float":
		var f json.Number
		var x float64
		if n.Decode(&x) == nil {
			f = json.Number(strconv.FormatFloat(x, 'g', -1, 64))
			return f
		}
	}
	return n.Value
}
