package bundle

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"

	"github.com/flowgate/flowgate/internal/suggest"
	"github.com/flowgate/flowgate/providers"
	"github.com/flowgate/flowgate/providers/channel"
)

// Answers are the values gtc setup builds a bundle from, validated. A string
// may be a ${NAME} reference; it is kept as written.
type Answers struct {
	Tenant   string
	Team     string
	APIToken string // empty: setup generates one
	// Channels holds the sections present in the answers, in the order of the channel
	// registry, enabled or not.
	Channels []ChannelAnswers
}

// ChannelAnswers is one messaging-<channel> section.
type ChannelAnswers struct {
	Name          string // the channel: whatsapp, messenger, instagram
	Enabled       bool
	PublicBaseURL string
	AccountID     string // the channel's id key: phone_number_id, page_id, ig_account_id
	Token         string // the channel's token key: access_token, page_access_token
	VerifyToken   string
	AppSecret     string
	// AppSecretDefaulted: the answers gave no app_secret, and AppSecret is AppSecretRef.
	AppSecretDefaulted bool
	// Optional holds the channel's further keys that are set (WhatsApp's
	// business_account_id).
	Optional   map[string]string
	APIVersion string
	APIBaseURL string
}

// Problem is one thing wrong with the answers: where (a JSON path such as
// messaging-whatsapp.phone_number_id), what, and how to fix it.
type Problem struct {
	Path    string
	Message string
	Fix     string
}

// String is the problem as gtc setup prints it: "path: message; fix".
func (p Problem) String() string {
	s := p.Path + ": " + p.Message
	if p.Fix != "" {
		s += "; " + p.Fix
	}
	return s
}

// AnswersError carries every problem found in an answers file.
type AnswersError struct {
	Problems []Problem
}

// Error lists every problem, one per line.
func (e *AnswersError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "answers: %d problem(s):", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// AppSecretRef is the app_secret of a channel whose answers give none: the Meta app's secret
// (one per app, shared by its channels) read from the environment.
const AppSecretRef = "${META_APP_SECRET}"

// channelSpec is a channel provider's answers section: what gtc setup asks for and prints, the
// section's name, and every key in the order provider files are written.
type channelSpec struct {
	Name    string // whatsapp
	Section string // messaging-whatsapp
	channel.Setup
	Keys     []string
	provider channel.Provider
}

// channelSpecs are the sections of the channels this build serves, in registry order.
func channelSpecs() []channelSpec {
	var out []channelSpec
	for _, p := range providers.All() {
		su := p.Setup()
		keys := []string{"enabled", "public_base_url", su.IDKey, su.TokenKey, "verify_token", "app_secret"}
		keys = append(keys, su.Optional...)
		keys = append(keys, "api_version", "api_base_url")
		out = append(out, channelSpec{Name: p.Name(), Section: "messaging-" + p.Name(), Setup: su, Keys: keys, provider: p})
	}
	return out
}

// specFor returns the spec of the channel or section name, or nil.
func specFor(name string) *channelSpec {
	for _, s := range channelSpecs() {
		if s.Name == name || s.Section == name {
			return &s
		}
	}
	return nil
}

// ChannelNames lists the channels a bundle can serve.
func ChannelNames() []string {
	var names []string
	for _, s := range channelSpecs() {
		names = append(names, s.Name)
	}
	return names
}

// WebhookFields returns the webhook fields to subscribe to in the Meta app dashboard for a channel.
func WebhookFields(channel string) []string {
	if s := specFor(channel); s != nil {
		return append([]string(nil), s.WebhookFields...)
	}
	return nil
}

var (
	schemaOnce sync.Once
	schemaRoot *jsonschema.Schema
	schemaDefs map[string]*jsonschema.Schema // one section per channel, by name
	schemaErr  error
)

const answersSchemaURL = "https://flowgate.dev/schema/answers.schema.json"

// compiledSchema compiles the answers schema (AnswersSchema) once: the whole answers and, for
// the loader's provider files, each channel's section.
func compiledSchema() (*jsonschema.Schema, map[string]*jsonschema.Schema, error) {
	schemaOnce.Do(func() {
		specs := channelSpecs()
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(buildAnswersSchema(specs)))
		if err != nil {
			schemaErr = fmt.Errorf("answers.schema.json: %w", err)
			return
		}
		c := jsonschema.NewCompiler()
		if err := c.AddResource(answersSchemaURL, doc); err != nil {
			schemaErr = err
			return
		}
		if schemaRoot, schemaErr = c.Compile(answersSchemaURL); schemaErr != nil {
			return
		}
		schemaDefs = map[string]*jsonschema.Schema{}
		for _, s := range specs {
			sch, err := c.Compile(answersSchemaURL + "#/$defs/" + s.Name)
			if err != nil {
				schemaErr = err
				return
			}
			schemaDefs[s.Name] = sch
		}
	})
	return schemaRoot, schemaDefs, schemaErr
}

// ParseAnswers reads and validates an answers file against the answers schema (AnswersSchema).
// Every problem is reported at once, in an *AnswersError.
func ParseAnswers(data []byte) (*Answers, error) {
	root, _, err := compiledSchema()
	if err != nil {
		return nil, fmt.Errorf("answers schema: %w", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, &AnswersError{Problems: []Problem{syntaxProblem(data, err)}}
	}
	probs := schemaProblems(root.Validate(inst), "", "")
	// Even when the schema failed, the sections that are objects are read (a value of the wrong
	// type reads as absent) so that the URL checks below report their problems in the same run.
	obj, _ := inst.(map[string]any)
	a := &Answers{
		Tenant:   str(obj, "tenant", "default"),
		Team:     str(obj, "team", "default"),
		APIToken: str(obj, "api_token", ""),
	}
	seen := map[string]bool{}
	for _, p := range probs {
		seen[p.String()] = true
	}
	for _, s := range channelSpecs() {
		sec, ok := obj[s.Section].(map[string]any)
		if !ok {
			continue
		}
		ch := channelFromMap(&s, sec)
		if _, given := sec["app_secret"]; !given && ch.Enabled {
			ch.AppSecret, ch.AppSecretDefaulted = AppSecretRef, true
		}
		for _, p := range checkChannel(&s, s.Section, ch) {
			if !seen[p.String()] { // the schema's URL pattern may have said the same
				seen[p.String()] = true
				probs = append(probs, p)
			}
		}
		a.Channels = append(a.Channels, ch)
	}
	if refs := refProblems("", inst); len(refs) > 0 {
		// A broken reference explains whatever else was said about its value.
		bad := map[string]bool{}
		for _, p := range refs {
			bad[p.Path] = true
		}
		probs = slices.DeleteFunc(probs, func(p Problem) bool { return bad[p.Path] })
		probs = append(probs, refs...)
		sort.SliceStable(probs, func(i, j int) bool { return probs[i].Path < probs[j].Path })
	}
	if len(probs) > 0 {
		return nil, &AnswersError{Problems: probs}
	}
	return a, nil
}

// refProblems reports the string values below v, at path, that try to be a ${NAME} reference
// and are not one: an unclosed ${NAME, a bad NAME, or a reference with text around it (a
// reference stands for the whole value). Such a value would otherwise be taken as a literal
// secret.
func refProblems(path string, v any) []Problem {
	switch x := v.(type) {
	case map[string]any:
		var probs []Problem
		for _, k := range slices.Sorted(maps.Keys(x)) {
			probs = append(probs, refProblems(join(path, pathSeg(k)), x[k])...)
		}
		return probs
	case []any:
		var probs []Problem
		for i, e := range x {
			probs = append(probs, refProblems(join(path, strconv.Itoa(i)), e)...)
		}
		return probs
	case string:
		i := strings.Index(x, "${")
		if i < 0 || IsRef(x) {
			return nil
		}
		if path == "" {
			path = "(root)"
		}
		end := strings.IndexByte(x[i:], '}')
		switch {
		case end < 0:
			name := strings.TrimSpace(x[i+2:])
			return []Problem{{Path: path, Message: fmt.Sprintf("%q: the ${ reference is not closed", x),
				Fix: fmt.Sprintf("write it as ${%s}", name)}}
		case !IsRef(x[i : i+end+1]):
			return []Problem{{Path: path, Message: fmt.Sprintf("%q is not a ${NAME} reference", x),
				Fix: "NAME is letters, digits and _, not starting with a digit, such as ${WHATSAPP_TOKEN}"}}
		default:
			return []Problem{{Path: path, Message: fmt.Sprintf("%q has text around its ${NAME} reference", x),
				Fix: "a reference stands for the whole value: write only " + x[i:i+end+1]}}
		}
	}
	return nil
}

// channelFromMap reads a section (answers or provider file) that passed the schema.
func channelFromMap(s *channelSpec, m map[string]any) ChannelAnswers {
	enabled := true
	if v, ok := m["enabled"].(bool); ok {
		enabled = v
	}
	c := ChannelAnswers{
		Name:          s.Name,
		Enabled:       enabled,
		PublicBaseURL: str(m, "public_base_url", ""),
		AccountID:     str(m, s.IDKey, ""),
		Token:         str(m, s.TokenKey, ""),
		VerifyToken:   str(m, "verify_token", ""),
		AppSecret:     str(m, "app_secret", ""),
		APIVersion:    str(m, "api_version", s.DefaultAPIVersion),
		APIBaseURL:    str(m, "api_base_url", s.DefaultBaseURL),
	}
	for _, k := range s.Optional {
		if v := str(m, k, ""); v != "" {
			if c.Optional == nil {
				c.Optional = map[string]string{}
			}
			c.Optional[k] = v
		}
	}
	return c
}

// checkChannel checks what the schema cannot say well: URLs that parse.
func checkChannel(s *channelSpec, prefix string, ch ChannelAnswers) []Problem {
	var probs []Problem
	for _, kv := range [][2]string{{"public_base_url", ch.PublicBaseURL}, {"api_base_url", ch.APIBaseURL}} {
		if kv[1] == "" || IsRef(kv[1]) {
			continue
		}
		if msg := checkURL(kv[1]); msg != "" {
			probs = append(probs, Problem{Path: join(prefix, kv[0]), Message: msg, Fix: urlFix})
		}
	}
	return probs
}

const urlFix = "use an https URL such as https://bot.example.com (http is accepted only for localhost, 127.0.0.1 and [::1])"

// checkURL returns what is wrong with a public or API base URL, or "".
func checkURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return fmt.Sprintf("%q is not a URL", s)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && isLocalhost(u.Hostname()):
	case u.Scheme == "http":
		return fmt.Sprintf("%q is not https", s)
	default:
		return fmt.Sprintf("%q: scheme must be https", s)
	}
	if u.User != nil { // it may hold a password: not echoed
		return "a base URL has no user info (user:password@)"
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Sprintf("%q: a base URL has no query or fragment", s)
	}
	return ""
}

func isLocalhost(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

func str(m map[string]any, key, def string) string {
	if v, ok := m[key].(string); ok {
		return v
	}
	return def
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	if key == "" {
		return prefix
	}
	return prefix + "." + key
}

var plainKeyRE = regexp.MustCompile(`^[A-Za-z0-9_$-]+$`)

// pathSeg writes one key of a JSON path: as it is when plain, quoted otherwise (an empty key, a
// key with dots or spaces).
func pathSeg(k string) string {
	if plainKeyRE.MatchString(k) {
		return k
	}
	return strconv.Quote(k)
}

var refRE = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$`)

// IsRef reports whether s is a ${NAME} reference.
func IsRef(s string) bool { return refRE.MatchString(s) }

// RefName returns NAME of a ${NAME} reference, or "".
func RefName(s string) string {
	if m := refRE.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return ""
}

// syntaxProblem turns a JSON syntax error into a problem with line and column.
func syntaxProblem(data []byte, err error) Problem {
	msg := err.Error()
	var se *json.SyntaxError
	var off int64 = -1
	if e, ok := asSyntax(err); ok {
		se, off = e, e.Offset
	}
	path := "(root)"
	if se != nil && off >= 0 {
		line, col := lineCol(data, max(int(off)-1, 0)) // Offset is just past the bad byte
		path = fmt.Sprintf("(line %d, column %d)", line, col)
		msg = se.Error()
	}
	return Problem{Path: path, Message: "invalid JSON: " + msg, Fix: "fix the syntax (a missing comma or quote, or a trailing comma)"}
}

func asSyntax(err error) (*json.SyntaxError, bool) {
	for err != nil {
		if se, ok := err.(*json.SyntaxError); ok {
			return se, true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return nil, false
		}
		err = u.Unwrap()
	}
	return nil, false
}

// lineCol converts a byte offset into a 1-based line and column.
func lineCol(data []byte, off int) (int, int) {
	if off > len(data) {
		off = len(data)
	}
	line, col := 1, 1
	for _, c := range data[:off] {
		if c == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}

// schemaProblems flattens a jsonschema validation error into problems, one per leaf, with
// paths prefixed by prefix. base names the object validated: "" for answers, a channel name for
// a provider file.
func schemaProblems(err error, prefix, base string) []Problem {
	if err == nil {
		return nil
	}
	ve, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return []Problem{{Path: "(root)", Message: err.Error()}}
	}
	var probs []Problem
	seen := map[string]bool{}
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		for _, p := range leafProblems(e, prefix, base) {
			if k := p.String(); !seen[k] {
				seen[k] = true
				probs = append(probs, p)
			}
		}
	}
	walk(ve)
	sort.SliceStable(probs, func(i, j int) bool { return probs[i].Path < probs[j].Path })
	return probs
}

func leafProblems(e *jsonschema.ValidationError, prefix, base string) []Problem {
	loc := ""
	for _, t := range e.InstanceLocation {
		loc = join(loc, pathSeg(t))
	}
	obj := join(base, loc) // the object's logical location, for knownKeys and fixFor
	path := join(prefix, loc)
	if path == "" {
		path = "(root)"
	}
	key, parent := "", base
	if n := len(e.InstanceLocation); n > 0 {
		key = e.InstanceLocation[n-1]
		parent = join(base, strings.Join(e.InstanceLocation[:n-1], "."))
	}
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		var probs []Problem
		for _, m := range k.Missing {
			probs = append(probs, Problem{Path: join(prefix, join(loc, pathSeg(m))), Message: "required", Fix: fixFor(obj, m)})
		}
		return probs
	case *kind.AdditionalProperties:
		var probs []Problem
		for _, p := range k.Properties {
			fix := "remove it"
			if s := suggest.Closest(p, knownKeys(obj)); s != "" {
				fix = fmt.Sprintf("did you mean %q? Fix the spelling or remove it", s)
			}
			probs = append(probs, Problem{Path: join(prefix, join(loc, pathSeg(p))), Message: "unknown key", Fix: fix})
		}
		return probs
	case *kind.Type:
		return []Problem{{Path: path, Message: fmt.Sprintf("wrong type: got %s, want %s", k.Got, strings.Join(k.Want, " or ")), Fix: typeFix(k.Want)}}
	case *kind.MinLength:
		return []Problem{{Path: path, Message: "empty", Fix: fixFor(parent, key)}}
	case *kind.Pattern:
		if strings.TrimSpace(k.Got) == "" {
			return []Problem{{Path: path, Message: "empty", Fix: fixFor(parent, key)}}
		}
		return []Problem{patternProblem(path, key, k.Got)}
	default:
		return []Problem{{Path: path, Message: e.ErrorKind.LocalizedString(nil)}}
	}
}

func patternProblem(path, key, got string) Problem {
	switch key {
	case "public_base_url", "api_base_url":
		msg := checkURL(got)
		if msg == "" {
			msg = fmt.Sprintf("%q is not a valid base URL", got)
		}
		return Problem{Path: path, Message: msg, Fix: urlFix}
	case "tenant", "team":
		return Problem{Path: path, Message: fmt.Sprintf("%q is not a valid name", got),
			Fix: "use 1 to 63 lowercase letters, digits, - or _, starting with a letter or digit (it becomes part of the webhook URL and a directory name)"}
	case "api_version":
		return Problem{Path: path, Message: fmt.Sprintf("%q is not a Graph API version", got), Fix: "write it like v21.0"}
	case "api_token":
		return Problem{Path: path, Message: "too short or contains spaces", Fix: "use at least 16 printable characters, a ${NAME} reference, or leave it out to get a random one"}
	default: // ids
		// The value is not repeated: what lands in an id field by mistake is often a token.
		return Problem{Path: path, Message: fmt.Sprintf("not a numeric id (its %d characters are not shown, in case it is a token)", utf8.RuneCountInString(got)),
			Fix: "copy the numeric id from the Meta dashboard, or write a ${NAME} reference"}
	}
}

func typeFix(want []string) string {
	if len(want) == 1 {
		switch want[0] {
		case "string":
			return "write the value in double quotes"
		case "boolean":
			return "write true or false, without quotes"
		case "object":
			return "write an object: { ... }"
		}
	}
	return ""
}

// fixFor tells where to find a required value of a section (messaging-<channel>, or the
// channel's name for a provider file).
func fixFor(section, key string) string {
	if s := specFor(section); s != nil {
		switch key {
		case s.IDKey:
			return s.IDFix
		case s.TokenKey:
			return s.TokenFix
		}
	}
	switch key {
	case "public_base_url":
		return "add the https URL at which Meta reaches this server, such as https://bot.example.com"
	case "verify_token":
		return "add a long random string; you paste the same string into the Meta app dashboard"
	case "app_secret":
		return "add the App secret from the Meta app dashboard (App settings > Basic), preferably as " + AppSecretRef
	}
	return "add it"
}

// knownKeys lists the keys allowed in the object at loc ("" is the top level).
func knownKeys(loc string) []string {
	specs := channelSpecs()
	if loc == "" {
		keys := []string{"$schema", "tenant", "team", "api_token"}
		for _, s := range specs {
			keys = append(keys, s.Section)
		}
		return keys
	}
	for _, s := range specs {
		if loc == s.Section || loc == s.Name {
			return s.Keys
		}
	}
	return nil
}
