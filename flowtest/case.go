// Package flowtest replays test cases against a bundle's flows: recorded webhooks and synthetic
// messages go through the same pipeline gtc serve runs (provider parser, deduplication,
// routing, engine, window policy, renderer, Graph API client); only the network and the clock
// are simulated. flowctl test is its command line.
package flowtest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/flowgate/flowgate/engine"
)

// Case is one test case file (*.test.yaml).
type Case struct {
	Name      string         `yaml:"name"`
	Channel   string         `yaml:"channel"`
	Contact   *ContactValue  `yaml:"contact"`
	Account   string         `yaml:"account"`
	Clock     string         `yaml:"clock"`
	Vars      map[string]any `yaml:"vars"`
	HTTPMocks []HTTPMock     `yaml:"http_mocks"`
	Steps     []Step         `yaml:"steps"`

	File string     `yaml:"-"`
	root *yaml.Node // the document, for --update and positions
}

// HTTPMock answers an http node's request.
type HTTPMock struct {
	Method  string            `yaml:"method,omitempty"`
	URL     string            `yaml:"url"`
	Status  int               `yaml:"status,omitempty"`
	Body    any               `yaml:"body,omitempty"`
	Headers map[string]string `yaml:"headers,omitempty"`
	Error   string            `yaml:"error,omitempty"` // fail as a network error with this text
	Times   int               `yaml:"times,omitempty"` // how often it answers; 0 means any number
}

// Step is one step of a case: exactly one of Webhook, Send, Start and Advance.
type Step struct {
	Webhook string        `yaml:"webhook"`
	Send    *SendStep     `yaml:"send"`
	Start   *StartStep    `yaml:"start"`
	Advance string        `yaml:"advance"`
	Graph   []GraphMock   `yaml:"graph"`
	Expect  yaml.Node     `yaml:"expect"` // absent: not checked; []: silence
	State   *StateExpect  `yaml:"state"`
	expect  []Expectation // decoded Expect
	node    *yaml.Node
}

// SendStep is a synthetic inbound message from the contact.
type SendStep struct {
	Text     string         `yaml:"text,omitempty"`
	Button   string         `yaml:"button,omitempty"` // reply button id (title is looked up as the id)
	List     string         `yaml:"list,omitempty"`   // list row id
	Location *LocationValue `yaml:"location,omitempty"`
	Image    string         `yaml:"image,omitempty"` // media id of an image
	Caption  string         `yaml:"caption,omitempty"`
	Name     string         `yaml:"name,omitempty"` // the contact's profile name
	// Contact, when set, is who sends this message: the same person under other ids (a
	// WhatsApp user id with or without the phone number).
	Contact *ContactValue `yaml:"contact,omitempty"`
}

// ContactValue is the user a case plays: an id (phone number, PSID, IGSID), or the ids of a
// WhatsApp user: {phone, user_id, username}, any of them left out (a username user has no
// phone).
type ContactValue struct {
	ID       string `yaml:"id,omitempty"`
	Phone    string `yaml:"phone,omitempty"`
	UserID   string `yaml:"user_id,omitempty"`
	Username string `yaml:"username,omitempty"`
}

// UnmarshalYAML reads an id or a mapping.
func (c *ContactValue) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		c.ID = n.Value
		return nil
	}
	type plain ContactValue
	return n.Decode((*plain)(c))
}

// Key is the id the user's conversation is keyed by: the user id, else the phone, else the id.
func (c *ContactValue) Key() string {
	switch {
	case c == nil:
		return ""
	case c.UserID != "":
		return c.UserID
	case c.Phone != "":
		return c.Phone
	}
	return c.ID
}

// LocationValue is a location in a send step or an expectation.
type LocationValue struct {
	Latitude  float64 `yaml:"latitude"`
	Longitude float64 `yaml:"longitude"`
	Name      string  `yaml:"name,omitempty"`
	Address   string  `yaml:"address,omitempty"`
}

// StartStep starts a flow as the API does.
type StartStep struct {
	Flow string         `yaml:"flow"`
	Node string         `yaml:"node,omitempty"`
	Vars map[string]any `yaml:"vars,omitempty"`
}

// GraphMock is an error the fake Graph API answers a send with, in order; sends beyond the
// list succeed.
type GraphMock struct {
	Status  int    `yaml:"status"` // HTTP status, default 400
	Code    int    `yaml:"code"`
	Subcode int    `yaml:"subcode"`
	Message string `yaml:"message"`
	Details string `yaml:"details"`
}

// StateExpect checks the conversation after a step. Unset fields are not checked.
type StateExpect struct {
	Node     *string        `yaml:"node"` // the waiting node; "" for not waiting
	Flow     *string        `yaml:"flow"`
	Vars     map[string]any `yaml:"vars"` // a subset of the conversation's vars
	OptedOut *bool          `yaml:"opted_out"`
	Handoff  *string        `yaml:"handoff"`
}

// caseSchema is schema/testcase.schema.json, compiled on first use.
var caseSchema = sync.OnceValues(func() (*engine.Schema, error) { return engine.CompileSchema("testcase.schema.json") })

// LoadCase reads and checks one case file.
func LoadCase(path string) (*Case, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseCase(path, data)
}

// ParseCase checks a case against its schema and decodes it. The error lists every problem
// with its file:line:col.
func ParseCase(path string, data []byte) (*Case, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, errors.New(engine.SyntaxDiagnostic(path, data, err).String())
	}
	if root.Kind == 0 {
		return nil, fmt.Errorf("%s: empty test case", path)
	}
	s, err := caseSchema()
	if err != nil {
		return nil, err
	}
	if err := s.Check(path, &root).Err(); err != nil {
		return nil, err
	}
	c := &Case{File: path, root: &root}
	if err := root.Decode(c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	steps := root.Content[0]
	for i := 0; i+1 < len(steps.Content); i += 2 {
		if steps.Content[i].Value == "steps" {
			for j := range c.Steps {
				c.Steps[j].node = steps.Content[i+1].Content[j]
			}
		}
	}
	var ds engine.Diagnostics
	for i := range c.Steps {
		st := &c.Steps[i]
		if st.Expect.Kind != 0 {
			if err := st.Expect.Decode(&st.expect); err != nil {
				ds = append(ds, engine.Diagnostic{File: path, Pos: engine.Pos{Line: st.Expect.Line, Col: st.Expect.Column}, Message: err.Error()})
			}
			if st.expect == nil {
				st.expect = []Expectation{}
			}
		}
		if st.Advance != "" {
			if _, err := time.ParseDuration(st.Advance); err != nil {
				ds = append(ds, engine.Diagnostic{File: path, Pos: engine.Pos{Line: st.node.Line, Col: st.node.Column}, Message: fmt.Sprintf("steps[%d].advance: %v", i, err)})
			}
		}
	}
	if c.Clock != "" {
		if _, err := time.Parse(time.RFC3339, c.Clock); err != nil {
			ds = append(ds, engine.Diagnostic{File: path, Pos: engine.Pos{Line: 1, Col: 1}, Message: fmt.Sprintf("clock: %v", err)})
		}
	}
	if err := ds.Err(); err != nil {
		return nil, err
	}
	if c.Name == "" {
		c.Name = filepath.Base(path)
	}
	return c, nil
}

// FindCases lists the *.test.yaml files under the given files and directories, sorted.
func FindCases(paths ...string) ([]string, error) {
	var out []string
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			out = append(out, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && (filepath.Ext(path) == ".yaml" || filepath.Ext(path) == ".yml") && isCaseName(d.Name()) {
				out = append(out, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func isCaseName(name string) bool {
	ok, _ := filepath.Match("*.test.yaml", name)
	ok2, _ := filepath.Match("*.test.yml", name)
	return ok || ok2
}
