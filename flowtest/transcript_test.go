package flowtest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/providers"
)

// TestParseMocks: a mocks file holds http_mocks as a case does and meets the same schema; a
// case file serves as one too.
func TestParseMocks(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		urls       []string // the mocks read
		err        string   // or the error
	}{
		{"mocks", "http_mocks:\n  - {url: \"https://x.test/a\", body: {ok: true}}\n  - {method: POST, url: \"https://x.test/b\", status: 500}\n",
			[]string{"https://x.test/a", "https://x.test/b"}, ""},
		{"a case file", "name: c\nhttp_mocks:\n  - {url: \"https://x.test/a\"}\nsteps:\n  - send: {text: hi}\n", []string{"https://x.test/a"}, ""},
		{"no url", "http_mocks:\n  - {status: 200}\n", nil, `m.yaml:2:5: error: http_mocks[0]: missing required field "url"`},
		{"unknown key", "http_mocks: []\nhttp_mock: []\n", nil, `m.yaml:2:1: error: unknown field "http_mock"`},
		{"bad method", "http_mocks:\n  - {method: FETCH, url: \"https://x.test/a\"}\n", nil, "m.yaml:2:14: error: http_mocks[0].method"},
		{"no http_mocks", "mocks: []\n", nil, "m.yaml: not a mocks file: want a mapping with http_mocks"},
		{"empty", "", nil, "m.yaml: not a mocks file"},
		{"not YAML", "http_mocks: [\n", nil, "m.yaml:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mocks, err := ParseMocks("m.yaml", []byte(tc.data))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want it to contain %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var urls []string
			for _, m := range mocks {
				urls = append(urls, m.URL)
			}
			if strings.Join(urls, " ") != strings.Join(tc.urls, " ") {
				t.Errorf("mocks %v, want %v", urls, tc.urls)
			}
		})
	}
}

// TestTranscriptReplays records a conversation through a session, as flowctl chat does, writes
// it as a case and replays the case: it passes, with the mock it used and without the one it
// did not; a changed expectation in the written case fails it.
func TestTranscriptReplays(t *testing.T) {
	ctx := context.Background()
	eng := exampleEngine(t)
	p := providers.Registry().Lookup("whatsapp")
	start := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	mocks := NewMocks([]HTTPMock{
		{URL: "https://api.example.com/orders/7"},
		{Method: "GET", URL: "https://api.example.com/orders/1042", Body: map[string]any{"state": "shipped"}},
	})
	s, err := NewSession(SessionOptions{Engine: eng, HTTP: mocks, Provider: p, Account: defaultAccount, Contact: "4915112345678", Clock: start})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tr := Transcript{Name: "recorded", Channel: "whatsapp", Contact: "4915112345678", Clock: start}
	for _, st := range []TranscriptStep{
		{Send: &SendStep{Text: "hi", Name: "Ann"}},
		{Send: &SendStep{Button: "status"}},
		{Send: &SendStep{Text: "1042"}},
		{Send: &SendStep{Text: "hello again"}},
		{Advance: 25 * time.Hour},
		{Start: &StartStep{Flow: "check_window"}},
	} {
		var turn *Turn
		switch {
		case st.Send != nil:
			turn, err = s.Say(ctx, st.Send)
		case st.Start != nil:
			turn, err = s.Start(ctx, st.Start.Flow, st.Start.Node, nil)
		default:
			turn, err = s.Advance(ctx, st.Advance)
		}
		if err != nil {
			t.Fatal(err)
		}
		st.Sent = turn.Sent
		tr.Steps = append(tr.Steps, st)
	}
	tr.Mocks = mocks.Used()
	path := filepath.Join(t.TempDir(), "recorded.test.yaml")
	data, err := tr.Marshal(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"contact: \"4915112345678\"\nclock: \"2026-03-02T10:00:00Z\"\n",
		"http_mocks:\n  - {method: GET, url: 'https://api.example.com/orders/1042', body: {state: shipped}}\nsteps:\n",
		"  - send: {text: hi, name: Ann}\n    expect:\n      - interactive: {type: button, buttons: [help, status, human]}\n",
		"  - send: {text: hello again}\n    expect: []\n",
		"  - advance: 25h\n    expect: []\n",
		"  - start: {flow: check_window}\n    expect:\n      - template: {name: follow_up, language: en}\n",
	} {
		if !strings.Contains(string(data), want) {
			t.Errorf("case lacks %q:\n%s", want, data)
		}
	}
	opts := Options{Engine: eng, Channels: providers.Registry()}
	replay := func(data []byte) *Result {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := LoadCase(path)
		if err != nil {
			t.Fatal(err)
		}
		return Run(ctx, c, opts)
	}
	if r := replay(data); !r.Passed() {
		t.Errorf("the recorded case fails:\n%s\n%+v %+v", data, r.Failures, r.Steps)
	}
	changed := strings.Replace(string(data), "Order 1042 is shipped.", "Order 1042 is lost.", 1)
	if changed == string(data) {
		t.Fatal("the case does not expect the looked-up order")
	}
	if r := replay([]byte(changed)); r.Passed() {
		t.Error("a case with a wrong expectation passes")
	}
}

// TestTranscriptEmpty: a case needs a step.
func TestTranscriptEmpty(t *testing.T) {
	if _, err := (&Transcript{Name: "x"}).Marshal("x.test.yaml"); err == nil {
		t.Error("an empty transcript was written")
	}
}
