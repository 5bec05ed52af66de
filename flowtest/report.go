package flowtest

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Print writes results the way go test does: "ok  NAME (duration)" or "FAIL NAME" with each
// failing step and its diff, and last "N passed, N failed". verbose adds every step's trace.
func Print(w io.Writer, results []*Result, verbose bool) {
	passed, failed := 0, 0
	for _, r := range results {
		if r.Passed() {
			passed++
			fmt.Fprintf(w, "ok  %s (%s)\n", r.Case.Name, seconds(r.Duration))
		} else {
			failed++
			fmt.Fprintf(w, "FAIL %s (%s)\n", r.Case.Name, seconds(r.Duration))
			fmt.Fprintf(w, "    %s\n", r.Case.File)
		}
		for _, f := range r.Failures {
			fmt.Fprintf(w, "    %s\n", indent(f, "    "))
		}
		for _, s := range r.Steps {
			if s.Failure == "" && !verbose {
				continue
			}
			fmt.Fprintf(w, "    step %d: %s\n", s.Index, s.Desc)
			if verbose {
				for _, t := range s.Trace {
					fmt.Fprintf(w, "        %s\n", t)
				}
			}
			for _, e := range s.Errors {
				fmt.Fprintf(w, "        send failed: %s\n", e)
			}
			if s.Failure != "" {
				fmt.Fprintf(w, "        %s\n", indent(s.Failure, "        "))
			}
		}
	}
	fmt.Fprintf(w, "%d passed, %d failed\n", passed, failed)
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }

func indent(s, prefix string) string { return strings.ReplaceAll(s, "\n", "\n"+prefix) }

// junitSuite is the JUnit XML report CI systems read.
type junitSuite struct {
	XMLName  xml.Name    `xml:"testsuite"`
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes the results as a JUnit XML file.
func WriteJUnit(path string, results []*Result) error {
	s := junitSuite{Name: "flowctl test", Tests: len(results)}
	var total time.Duration
	for _, r := range results {
		total += r.Duration
		c := junitCase{Name: r.Case.Name, Classname: r.Case.File, Time: fmt.Sprintf("%.3f", r.Duration.Seconds())}
		if !r.Passed() {
			s.Failures++
			var b bytes.Buffer
			Print(&b, []*Result{r}, false)
			c.Failure = &junitFailure{Message: "case failed", Text: b.String()}
		}
		s.Cases = append(s.Cases, c)
	}
	s.Time = fmt.Sprintf("%.3f", total.Seconds())
	out, err := xml.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("junit: %w", err)
	}
	out = append([]byte(xml.Header), append(out, '\n')...)
	if err := os.WriteFile(path, out, 0o644); err != nil {
		return fmt.Errorf("junit: %w", err)
	}
	return nil
}

// Update writes each failing step's actual messages into the case file as its expectations,
// and adds them to steps that have none; passing steps keep theirs (text_contains and request
// subsets included), as does everything else in the file, comments too. It reports whether the
// file changed.
func Update(r *Result) (bool, error) {
	c := r.Case
	for i, s := range r.Steps {
		if i >= len(c.Steps) {
			break
		}
		if c.Steps[i].Expect.Kind != 0 && s.Failure == "" {
			continue
		}
		node := c.Steps[i].node
		actual := s.actual
		if actual == nil {
			actual = []Expectation{}
		}
		var v yaml.Node
		if err := v.Encode(actual); err != nil {
			return false, fmt.Errorf("update %s: %w", c.File, err)
		}
		for _, item := range v.Content {
			for _, sub := range item.Content {
				setFlow(sub)
			}
		}
		if len(actual) == 0 {
			v.Style = yaml.FlowStyle
		}
		setKey(node, "expect", &v)
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(c.root); err != nil {
		return false, fmt.Errorf("update %s: %w", c.File, err)
	}
	if err := enc.Close(); err != nil {
		return false, fmt.Errorf("update %s: %w", c.File, err)
	}
	old, err := os.ReadFile(c.File)
	if err == nil && bytes.Equal(old, b.Bytes()) {
		return false, nil
	}
	if err := os.WriteFile(c.File, b.Bytes(), 0o644); err != nil {
		return false, fmt.Errorf("update %s: %w", c.File, err)
	}
	return true, nil
}

// setKey sets key in a YAML mapping to v, replacing its value or adding the key, keeping any
// comment on the old value.
func setKey(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			old := m.Content[i+1]
			v.LineComment, v.HeadComment, v.FootComment = old.LineComment, old.HeadComment, old.FootComment
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, v)
}
