package bundle

import (
	"bytes"
	"encoding/json"
	"strings"
)

// AnswersSchema returns the JSON Schema of gtc setup's answers, built from the channel
// providers of this build: the top-level keys, the shared definitions and one section per
// channel. schema/answers.schema.json is this document, for editors (a test keeps it current:
// go test ./internal/bundle -update rewrites it); setup validates against it directly.
func AnswersSchema() []byte {
	return buildAnswersSchema(channelSpecs())
}

func buildAnswersSchema(specs []channelSpec) []byte {
	const ref = `^\$\{[A-Za-z_][A-Za-z0-9_]*\}$`
	refAlt := strings.TrimSuffix(strings.TrimPrefix(ref, "^"), "$")
	props := object{
		{"$schema", object{{"type", "string"}}},
		{"tenant", object{
			{"description", "Tenant the channels belong to; part of the webhook URL and of providers/<tenant>/<team>/. Default: default."},
			{"type", "string"},
			{"pattern", "^[a-z0-9][a-z0-9_-]{0,62}$"},
		}},
		{"team", object{
			{"description", "Team within the tenant; part of the webhook URL and of providers/<tenant>/<team>/. Default: default."},
			{"type", "string"},
			{"pattern", "^[a-z0-9][a-z0-9_-]{0,62}$"},
		}},
		{"api_token", object{
			{"description", "Bearer token of the admin API. Default: a random token written to the bundle's .env as FLOWGATE_API_TOKEN."},
			{"$ref", "#/$defs/api_token"},
		}},
	}
	defs := object{
		{"ref", object{{"type", "string"}, {"pattern", ref}}},
		{"api_token", object{{"type", "string"}, {"pattern", "^(" + refAlt + "|[!-~]{16,})$"}}},
		{"enabled", object{
			{"description", "Whether the channel is served. Default: true when the section is present."},
			{"type", "boolean"},
		}},
		{"url", object{
			{"description", "An https URL (http only for localhost, 127.0.0.1 or [::1]), or a ${NAME} reference."},
			{"type", "string"},
			{"pattern", `^(https://[^\s/?#]+(/[^\s?#]*)?|http://(localhost|127\.0\.0\.1|\[::1\])(:[0-9]{1,5})?(/[^\s?#]*)?|` + refAlt + `)$`},
		}},
		{"id", object{
			{"description", "A numeric Meta object id, or a ${NAME} reference."},
			{"type", "string"},
			{"pattern", "^([0-9]+|" + refAlt + ")$"},
		}},
		{"secret", object{
			{"description", "A secret: the literal value (written to a 0600 file) or, better, a ${NAME} reference."},
			{"type", "string"},
			{"minLength", 1},
			{"pattern", `\S`},
		}},
		{"api_version", object{
			{"description", "Graph API version, like v21.0."},
			{"type", "string"},
			{"pattern", `^(v[0-9]+\.[0-9]+|` + refAlt + `)$`},
		}},
	}
	for _, s := range specs {
		props = append(props, kv{s.Section, object{{"$ref", "#/$defs/" + s.Name}}})
		p := object{
			{"enabled", object{{"$ref", "#/$defs/enabled"}}},
			{"public_base_url", object{{"$ref", "#/$defs/url"}}},
			{s.IDKey, object{{"$ref", "#/$defs/id"}}},
			{s.TokenKey, object{{"$ref", "#/$defs/secret"}}},
			{"verify_token", object{{"$ref", "#/$defs/secret"}}},
			{"app_secret", object{{"$ref", "#/$defs/secret"}, {"default", AppSecretRef},
				{"description", "The Meta app's secret (App settings > Basic), which signs the webhooks. Default: " + AppSecretRef + ", read from the environment by gtc serve."}}},
		}
		for _, k := range s.Optional {
			p = append(p, kv{k, object{{"$ref", "#/$defs/id"}}})
		}
		p = append(p,
			kv{"api_version", object{{"$ref", "#/$defs/api_version"}, {"default", s.DefaultAPIVersion}}},
			kv{"api_base_url", object{{"$ref", "#/$defs/url"}, {"default", s.DefaultBaseURL}}})
		defs = append(defs, kv{s.Name, object{
			{"description", s.Description},
			{"type", "object"},
			{"additionalProperties", false},
			{"properties", p},
			{"if", object{{"properties", object{{"enabled", object{{"const", false}}}}}, {"required", []string{"enabled"}}}},
			{"else", object{{"required", []string{"public_base_url", s.IDKey, s.TokenKey, "verify_token"}}}},
		}})
	}
	doc := object{
		{"$schema", "https://json-schema.org/draft/2020-12/schema"},
		{"$id", answersSchemaURL},
		{"$comment", "Generated from the channel providers (internal/bundle/answers_schema.go); go test ./internal/bundle -update rewrites it."},
		{"title", "gtc setup answers"},
		{"description", "The answers gtc setup turns into a Flowgate bundle. Any string may be a ${NAME} reference, kept as written and resolved from the environment when the bundle is loaded."},
		{"type", "object"},
		{"additionalProperties", false},
		{"properties", props},
		{"$defs", defs},
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		panic(err) // strings, numbers and booleans only: cannot fail
	}
	return b.Bytes()
}

// object is a JSON object that keeps its keys in order, so that the schema reads top-down.
type object []kv

type kv struct {
	k string
	v any
}

// MarshalJSON writes the members in order.
func (o object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(m.k)
		if err != nil {
			return nil, err
		}
		var v bytes.Buffer
		enc := json.NewEncoder(&v)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(m.v); err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(bytes.TrimRight(v.Bytes(), "\n"))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
