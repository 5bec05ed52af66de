package engine

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/flowgate/flowgate/engine/msg"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// testLimits are WhatsApp's limits (as the whatsapp provider publishes them), a Messenger
// that cannot send templates and an Instagram with one tag and three media types, so that
// channel checks have something to reject.
func testLimits() map[string]msg.Limits {
	return map[string]msg.Limits{
		msg.WhatsApp: {Text: 4096, Templates: true, Buttons: 3, ButtonTitle: 20, ButtonBody: 1024,
			ListRows: 10, ListSections: 10, ListButton: 20, RowTitle: 24, RowDescription: 72,
			SectionTitle: 24, ListBody: 4096, HeaderText: 60, FooterText: 60, Caption: 1024,
			InteractiveHeader: true, Location: true},
		msg.Messenger: {Templates: false, Tags: messengerTags, Text: 2000, Location: true},
		msg.Instagram: {Tags: []string{"HUMAN_AGENT"}, Media: []string{"image", "video", "audio"}},
	}
}

// channelPolicies are the window policies of the three channels without any size limit: WhatsApp
// falls back to templates, Messenger and Instagram use message tags.
func channelPolicies(c *Config) {
	c.Limits = map[string]msg.Limits{
		msg.WhatsApp:  {Templates: true},
		msg.Messenger: {Tags: messengerTags},
		msg.Instagram: {Tags: []string{"HUMAN_AGENT"}},
	}
}

var messengerTags = []string{"HUMAN_AGENT", "ACCOUNT_UPDATE", "CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE"}

// testTemplates is testdata/templates.yaml.
var testTemplates = sync.OnceValues(func() ([]Template, error) {
	data, err := os.ReadFile("testdata/templates.yaml")
	if err != nil {
		return nil, err
	}
	ts, ds := ParseTemplates("testdata/templates.yaml", data)
	if len(ds) > 0 {
		return nil, fmt.Errorf("testdata/templates.yaml:\n%s", diagLines(ds))
	}
	return ts, nil
})

// load parses flow files and builds an engine from them with the test templates and limits,
// returning every diagnostic of both stages. New runs only when every file parsed.
func load(t testing.TB, cfg Config, files map[string][]byte, order []string) (*Engine, Diagnostics) {
	t.Helper()
	ts, err := testTemplates()
	if err != nil {
		t.Fatal(err)
	}
	var ds Diagnostics
	for _, name := range order {
		f, fds := ParseFlow(name, files[name])
		ds = append(ds, fds...)
		if f != nil {
			cfg.Flows = append(cfg.Flows, f)
		}
	}
	if ds.HasErrors() {
		return nil, ds
	}
	if cfg.Templates == nil {
		cfg.Templates = ts
	}
	e, nds := New(cfg)
	return e, append(ds, nds...)
}

// mustEngine builds an engine from flow sources, named flow1.yaml, flow2.yaml... in the order
// given, and fails the test on any diagnostic, warnings included.
func mustEngine(t testing.TB, cfg Config, flows ...string) *Engine {
	t.Helper()
	files := map[string][]byte{}
	var order []string
	for i, src := range flows {
		name := fmt.Sprintf("flow%d.yaml", i+1)
		files[name] = []byte(src)
		order = append(order, name)
	}
	e, ds := load(t, cfg, files, order)
	if len(ds) > 0 {
		t.Fatalf("flows do not load cleanly:\n%s", diagLines(ds))
	}
	return e
}

func diagLines(ds Diagnostics) string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString(d.String())
		b.WriteByte('\n')
	}
	return b.String()
}
