package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInvalidFlows checks each flow in testdata/invalid against the diagnostics in the .golden
// file beside it: one file:line:col: severity: message line each. go test -update rewrites them.
func TestInvalidFlows(t *testing.T) {
	paths, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no invalid flows: %v", err)
	}
	for _, path := range paths {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		t.Run(name, func(t *testing.T) {
			got := diagLines(loadFile(t, path))
			golden := strings.TrimSuffix(path, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("diagnostics of %s:\n got:\n%s\nwant:\n%s", path, got, want)
			}
			if got == "" {
				t.Errorf("%s is accepted without a diagnostic", path)
			}
		})
	}
}

// TestValidFlows checks that the flows in testdata/valid load without any diagnostic.
func TestValidFlows(t *testing.T) {
	paths, _ := filepath.Glob("testdata/valid/*.yaml")
	if len(paths) == 0 {
		t.Fatal("no valid flows")
	}
	for _, path := range paths {
		if ds := loadFile(t, path); len(ds) > 0 {
			t.Errorf("%s:\n%s", path, diagLines(ds))
		}
	}
}

// TestExampleFlows checks that the flows shipped in flows/ load together, against
// flows/templates.yaml and WhatsApp's and Messenger's limits, without errors or warnings.
func TestExampleFlows(t *testing.T) {
	paths, _ := filepath.Glob("../flows/*.yaml")
	files := map[string][]byte{}
	var order []string
	var cfg Config
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(p) == "templates.yaml" {
			ts, ds := ParseTemplates(p, data)
			if len(ds) > 0 {
				t.Errorf("templates:\n%s", diagLines(ds))
			}
			cfg.Templates = ts
			continue
		}
		files[p] = data
		order = append(order, p)
	}
	if len(order) == 0 {
		t.Fatal("no flows in ../flows")
	}
	if cfg.Templates == nil {
		t.Fatal("no ../flows/templates.yaml")
	}
	cfg.Settings, cfg.Limits = DefaultSettings(), testLimits()
	if _, ds := load(t, cfg, files, order); len(ds) > 0 {
		t.Errorf("example flows:\n%s", diagLines(ds))
	}
}

// loadFile loads one flow file with the test templates, limits and default settings.
func loadFile(t *testing.T, path string) Diagnostics {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	path = filepath.ToSlash(path)
	_, ds := load(t, Config{Settings: DefaultSettings(), Limits: testLimits()}, map[string][]byte{path: data}, []string{path})
	return ds
}

// TestBundleDiagnostics covers the rules that need more than one file or the bundle's settings.
func TestBundleDiagnostics(t *testing.T) {
	const hello = "name: %s\nnodes:\n  - {id: hello, type: reply, config: {message: \"Hello\"}}\ntriggers:\n  - {type: any, target: hello}\n"
	cases := []struct {
		name     string
		files    []string // name:source pairs, in order
		settings func(*Settings)
		want     string
	}{
		{
			name:  "duplicate flow name",
			files: []string{"b.yaml", fmt.Sprintf(hello, "main"), "a.yaml", fmt.Sprintf(hello, "main")},
			want:  `b.yaml:1:7: error: flow name "main" is already used by a.yaml`,
		},
		{
			name:     "default flow missing",
			files:    []string{"a.yaml", fmt.Sprintf(hello, "main")},
			settings: func(s *Settings) { s.DefaultFlow = "fallback" },
			want:     `bundle.yaml: error: default_flow: no flow named "fallback"`,
		},
		{
			name:     "default flow without start",
			files:    []string{"a.yaml", fmt.Sprintf(hello, "main")},
			settings: func(s *Settings) { s.DefaultFlow = "main" },
			want:     `a.yaml:1:7: error: flow "main" is the bundle's default flow but has no start node`,
		},
		{
			name: "goto a flow without start",
			files: []string{"a.yaml", fmt.Sprintf(hello, "main"), "b.yaml",
				"name: other\nnodes:\n  - id: jump\n    type: goto\n    config: {flow: main}\ntriggers:\n  - {type: any, target: jump}\n"},
			want: `b.yaml:5:20: error: node "jump": goto: flow "main" has no start node; name one with node:`,
		},
		{
			name:  "goto across flows",
			files: []string{"a.yaml", fmt.Sprintf(hello, "main"), "b.yaml", "name: other\nnodes:\n  - id: jump\n    type: goto\n    config: {flow: main, node: hello}\ntriggers:\n  - {type: any, target: jump}\n"},
		},
		{
			// A fallback is never sent where there are no templates: on Messenger and Instagram
			// a closed window means a message tag or nothing. So a flow for every channel may
			// carry one for WhatsApp.
			name: "window fallbacks in a flow for every channel",
			files: []string{"a.yaml", "name: main\nwindow_fallback: {name: reopen, language: en}\nnodes:\n" +
				"  - {id: hello, type: reply, config: {message: \"Hello\", fallback_template: {name: reopen, language: en}}}\n" +
				"triggers:\n  - {type: any, target: hello}\n"},
		},
		{
			name:     "bundle fallback template not listed",
			files:    []string{"a.yaml", fmt.Sprintf(hello, "main")},
			settings: func(s *Settings) { s.FallbackTemplate = &TemplateConfig{Name: "nope", Language: "en"} },
			want:     `bundle.yaml: error: window.fallback_template: template "nope" is not listed in templates.yaml`,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			files := map[string][]byte{}
			var order []string
			for i := 0; i < len(c.files); i += 2 {
				files[c.files[i]] = []byte(c.files[i+1])
				order = append(order, c.files[i])
			}
			cfg := Config{Settings: DefaultSettings(), SettingsFile: "bundle.yaml"}
			if c.settings != nil {
				c.settings(&cfg.Settings)
			}
			_, ds := load(t, cfg, files, order)
			got := strings.TrimSpace(diagLines(ds))
			if got != c.want {
				t.Errorf("diagnostics:\n got: %s\nwant: %s", got, c.want)
			}
		})
	}
}

func TestParseTemplates(t *testing.T) {
	const src = `templates:
  - {name: ok, language: en, category: utility, body_parameters: 1, buttons: [quick_reply]}
  - {language: en, category: promo}
  - {name: bad_parts, language: en, category: marketing, header: gif, buttons: [call]}
`
	ts, ds := ParseTemplates("templates.yaml", []byte(src))
	want := `templates.yaml:3:5: error: templates[1]: missing required field "name"
templates.yaml:3:5: error: templates[1]: category "promo": want marketing, utility or authentication
templates.yaml:4:5: error: templates[2]: header "gif": want text, image, video, document or location
templates.yaml:4:5: error: templates[2]: button "call": want quick_reply, url, phone_number or copy_code
`
	if got := diagLines(ds); got != want {
		t.Errorf("diagnostics:\n got:\n%s\nwant:\n%s", got, want)
	}
	if len(ts) != 3 || ts[0].Name != "ok" || ts[0].BodyParameters != 1 || ts[0].Pos != (Pos{2, 5}) {
		t.Errorf("templates = %+v", ts)
	}
}

// TestTriggerOverlaps: a copied flow that kept its original's keywords or button ids is told
// that the original wins, and why; narrowed or separated triggers are no overlap.
func TestTriggerOverlaps(t *testing.T) {
	const menu = `name: menu
nodes:
  - {id: hello, type: reply, config: {message: "Hi"}}
triggers:
  - {type: message, keywords: [menu, hi], target: hello}
  - {type: interactive, ids: [help], target: hello}
`
	for _, tc := range []struct {
		name, copy, want string
	}{
		{"same keyword, file order decides", `name: menu_copy
nodes:
  - {id: hello, type: reply, config: {message: "Hello"}}
triggers:
  - {type: message, keywords: [Hi, start], target: hello}
`, `b.yaml:5:32: warning: triggers[0]: keyword "Hi" is also taken by flow "menu"'s message trigger, which wins (same priority, and a.yaml sorts before b.yaml): this trigger never fires for it
`},
		{"same button id, priority decides", `name: menu_copy
nodes:
  - {id: hello, type: reply, config: {message: "Hello"}}
triggers:
  - {type: interactive, ids: [help], target: hello, priority: -1}
`, `b.yaml:5:31: warning: triggers[0]: id "help" is also taken by flow "menu"'s interactive trigger, which wins (it has a higher priority): this trigger never fires for it
`},
		{"the copy outranks the original", `name: menu_copy
nodes:
  - {id: hello, type: reply, config: {message: "Hello"}}
triggers:
  - {type: message, keywords: [menu], target: hello, priority: 1}
`, `a.yaml:5:32: warning: triggers[0]: keyword "menu" is also taken by flow "menu_copy"'s message trigger, which wins (it has a higher priority): this trigger never fires for it
`},
		{"a flow on every channel shadows one on messenger", `name: menu_copy
channels: [messenger]
nodes:
  - {id: hello, type: reply, config: {message: "Hello"}}
triggers:
  - {type: message, keywords: [menu], target: hello}
`, `b.yaml:6:32: warning: triggers[0]: keyword "menu" is also taken by flow "menu"'s message trigger, which wins (same priority, and a.yaml sorts before b.yaml): this trigger never fires for it
`},
		{"different keywords are no overlap", `name: menu_copy
nodes:
  - {id: hello, type: reply, config: {message: "Hello"}}
triggers:
  - {type: message, keywords: [start], target: hello}
`, ""},
		{"an interrupt is not shadowed by a plain trigger", `name: menu_copy
nodes:
  - {id: hello, type: reply, config: {message: "Hello"}}
triggers:
  - {type: message, keywords: [menu], target: hello, interrupt: true}
`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ds := load(t, Config{Settings: DefaultSettings()}, map[string][]byte{"a.yaml": []byte(menu), "b.yaml": []byte(tc.copy)}, []string{"a.yaml", "b.yaml"})
			if got := diagLines(ds); got != tc.want {
				t.Errorf("diagnostics:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

// TestPhoneUseWarned: a flow that passes contact.phone to a service or a variable without
// testing it is warned (a username user has no phone); a branch on it silences the warning.
func TestPhoneUseWarned(t *testing.T) {
	const unchecked = `name: crm
nodes:
  - id: save
    type: set
    config: {vars: {phone: "contact.phone"}}
    next: lookup
  - id: lookup
    type: http
    config: {method: GET, url: "https://crm.example.com/c?phone={{ contact.phone }}", save_as: crm}
triggers:
  - {type: message, keywords: [crm], target: save}
`
	const checked = `name: crm
nodes:
  - id: has_phone
    type: branch
    config:
      conditions: [{expression: "contact.phone != ''", next: lookup}]
      default: lookup_by_id
  - id: lookup
    type: http
    config: {method: GET, url: "https://crm.example.com/c?phone={{ contact.phone }}", save_as: crm}
  - id: lookup_by_id
    type: http
    config: {method: GET, url: "https://crm.example.com/c?id={{ contact.id }}", save_as: crm}
triggers:
  - {type: message, keywords: [crm], target: has_phone}
`
	_, ds := load(t, Config{Settings: DefaultSettings()}, map[string][]byte{"a.yaml": []byte(unchecked)}, []string{"a.yaml"})
	want := `a.yaml:5:28: warning: contact.phone is empty for a WhatsApp user known only by a username (no phone number): test it in a branch (contact.phone != "") before passing it on, or use contact.id
a.yaml:9:32: warning: contact.phone is empty for a WhatsApp user known only by a username (no phone number): test it in a branch (contact.phone != "") before passing it on, or use contact.id
`
	if got := diagLines(ds); got != want {
		t.Errorf("diagnostics:\n%s\nwant:\n%s", got, want)
	}
	if _, ds := load(t, Config{Settings: DefaultSettings()}, map[string][]byte{"a.yaml": []byte(checked)}, []string{"a.yaml"}); len(ds) != 0 {
		t.Errorf("checked flow: %s", diagLines(ds))
	}
}
