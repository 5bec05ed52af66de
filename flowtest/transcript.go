package flowtest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/flowgate/flowgate/engine"
)

// Transcript is a conversation kept as the steps of a test case, with what each step sent:
// flowctl chat writes it (/save) as a case that flowctl test passes when replayed.
type Transcript struct {
	Name string
	// Comment is the case's head comment; empty for flowctl chat's.
	Comment string
	Channel string
	Contact string
	Clock   time.Time  // where the conversation's clock started
	Mocks   []HTTPMock // the http_mocks entries the conversation used
	Steps   []TranscriptStep
}

// TranscriptStep is one step: exactly one of Send, Start and Advance, and the messages it sent.
type TranscriptStep struct {
	Send    *SendStep
	Start   *StartStep
	Advance time.Duration
	Sent    []Sent
}

// caseFile is the layout of a case file that Marshal writes.
type caseFile struct {
	Name      string     `yaml:"name"`
	Channel   string     `yaml:"channel"`
	Contact   string     `yaml:"contact"`
	Clock     string     `yaml:"clock"`
	HTTPMocks []HTTPMock `yaml:"http_mocks,omitempty"`
	Steps     []caseStep `yaml:"steps"`
}

type caseStep struct {
	Send    *SendStep     `yaml:"send,omitempty"`
	Start   *StartStep    `yaml:"start,omitempty"`
	Advance string        `yaml:"advance,omitempty"`
	Expect  []Expectation `yaml:"expect"`
}

// Marshal writes the transcript as a test case file named path (which names the file in
// errors): each step expects exactly the messages it sent, or silence. The case is checked
// against the test case schema before it is returned.
func (t *Transcript) Marshal(path string) ([]byte, error) {
	if len(t.Steps) == 0 {
		return nil, fmt.Errorf("%s: a case needs at least one step", path)
	}
	cf := caseFile{Name: t.Name, Channel: t.Channel, Contact: t.Contact, Clock: t.Clock.UTC().Format(time.RFC3339), HTTPMocks: t.Mocks}
	for _, s := range t.Steps {
		cs := caseStep{Send: s.Send, Start: s.Start, Expect: []Expectation{}}
		if s.Send == nil && s.Start == nil {
			cs.Advance = engine.FormatDuration(s.Advance)
		}
		for _, m := range s.Sent {
			cs.Expect = append(cs.Expect, describe(&m.Message))
		}
		cf.Steps = append(cf.Steps, cs)
	}
	var doc yaml.Node
	if err := doc.Encode(cf); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	doc.HeadComment = t.Comment
	if doc.HeadComment == "" {
		doc.HeadComment = "Recorded with flowctl chat. Say here what the case proves."
	}
	// One line per mock, per step action and per expected message, as hand-written cases have.
	for i := 0; i+1 < len(doc.Content); i += 2 {
		switch v := doc.Content[i+1]; doc.Content[i].Value {
		case "http_mocks":
			for _, m := range v.Content {
				setFlow(m)
			}
		case "steps":
			for _, step := range v.Content {
				for j := 0; j+1 < len(step.Content); j += 2 {
					if step.Content[j].Value != "expect" {
						setFlow(step.Content[j+1])
						continue
					}
					ex := step.Content[j+1]
					if len(ex.Content) == 0 {
						ex.Style = yaml.FlowStyle
					}
					for _, item := range ex.Content {
						for _, sub := range item.Content {
							setFlow(sub)
						}
					}
				}
			}
		}
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if _, err := ParseCase(path, b.Bytes()); err != nil {
		return nil, fmt.Errorf("the saved case would not load: %w", err)
	}
	return b.Bytes(), nil
}

// LoadMocks reads the http_mocks of a mocks file: a YAML mapping with http_mocks as a test case
// has them. A test case file works too; only its http_mocks are used. Problems are reported
// with file:line:col, as for a case.
func LoadMocks(path string) ([]HTTPMock, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseMocks(path, data)
}

// ParseMocks is LoadMocks for the contents of a file.
func ParseMocks(path string, data []byte) ([]HTTPMock, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, errors.New(engine.SyntaxDiagnostic(path, data, err).String())
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode || !hasKey(root.Content[0], "http_mocks") {
		return nil, fmt.Errorf("%s: not a mocks file: want a mapping with http_mocks, as in a test case", path)
	}
	m := root.Content[0]
	if !hasKey(m, "steps") {
		// Check the file as a case with one step that does nothing, so that the mocks meet the
		// case schema, with its messages and positions.
		step, err := stepNode()
		if err != nil {
			return nil, err
		}
		m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "steps"}, step)
	}
	s, err := caseSchema()
	if err != nil {
		return nil, err
	}
	if err := s.Check(path, &root).Err(); err != nil {
		return nil, err
	}
	var c Case
	if err := root.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c.HTTPMocks, nil
}

// stepNode is a steps list with one step that does nothing.
func stepNode() (*yaml.Node, error) {
	var n yaml.Node
	if err := n.Encode([]caseStep{{Advance: "0s"}}); err != nil {
		return nil, fmt.Errorf("mocks: %w", err)
	}
	return &n, nil
}

func hasKey(m *yaml.Node, key string) bool {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return true
		}
	}
	return false
}
