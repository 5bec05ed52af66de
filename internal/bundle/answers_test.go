package bundle

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

func readExample(t testing.TB) []byte {
	t.Helper()
	data, err := os.ReadFile("../../answers.example.json")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestParseAnswersExample(t *testing.T) {
	a, err := ParseAnswers(readExample(t))
	if err != nil {
		t.Fatalf("answers.example.json does not validate: %v", err)
	}
	if a.Tenant != "acme" || a.Team != "support" || a.APIToken != "" {
		t.Errorf("tenant/team/api_token = %q/%q/%q", a.Tenant, a.Team, a.APIToken)
	}
	if len(a.Channels) != 3 {
		t.Fatalf("%d channels, want the 3 sections", len(a.Channels))
	}
	wa := a.Channels[0]
	want := ChannelAnswers{Name: "whatsapp", Enabled: true, PublicBaseURL: "https://bot.example.com",
		AccountID: "123456789012345", Token: "${WHATSAPP_TOKEN}", VerifyToken: "a-long-random-string",
		AppSecret: "${META_APP_SECRET}", Optional: map[string]string{"business_account_id": "987654321098765"},
		APIVersion: "v21.0", APIBaseURL: "https://graph.facebook.com"}
	if !reflect.DeepEqual(wa, want) {
		t.Errorf("whatsapp = %+v\nwant       %+v", wa, want)
	}
	if a.Channels[1].Name != "messenger" || a.Channels[1].Enabled || a.Channels[2].Name != "instagram" || a.Channels[2].Enabled {
		t.Errorf("messenger/instagram = %+v / %+v, want both disabled", a.Channels[1], a.Channels[2])
	}
}

func TestParseAnswersDefaults(t *testing.T) {
	a, err := ParseAnswers([]byte(`{"messaging-instagram": {"public_base_url": "https://x.example/base/", "ig_account_id": "1", "access_token": "${T}", "verify_token": "v", "app_secret": "s"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if a.Tenant != "default" || a.Team != "default" {
		t.Errorf("tenant/team = %q/%q, want default/default", a.Tenant, a.Team)
	}
	ig := a.Channels[0]
	if !ig.Enabled || ig.APIVersion != "v21.0" || ig.APIBaseURL != "https://graph.instagram.com" {
		t.Errorf("instagram defaults: %+v", ig)
	}
	if got := CallbackURL(ig.PublicBaseURL, ig.Name, a.Tenant, a.Team); got != "https://x.example/base/webhook/instagram/default/default" {
		t.Errorf("callback URL %q", got)
	}
}

func TestParseAnswersProblems(t *testing.T) {
	wa := func(fields string) string {
		return `{"messaging-whatsapp": {` + fields + `}}`
	}
	const ok = `"public_base_url": "https://bot.example.com", "phone_number_id": "1", "access_token": "${T}", "verify_token": "v", "app_secret": "${S}"`
	tests := []struct {
		name string
		in   string
		want []string // every problem, in order
	}{
		{"missing key", wa(`"public_base_url": "https://bot.example.com", "phone_number_id": "1", "verify_token": "v", "app_secret": "s"`),
			[]string{"messaging-whatsapp.access_token: required; add a system user access token, preferably as a ${NAME} reference such as ${WHATSAPP_TOKEN}"}},
		{"unknown key", wa(ok + `, "verify_tokn": "x"`),
			[]string{`messaging-whatsapp.verify_tokn: unknown key; did you mean "verify_token"? Fix the spelling or remove it`}},
		{"empty key", `{"": 1, "a.b": 2}`,
			[]string{`"": unknown key; remove it`, `"a.b": unknown key; remove it`}},
		{"unknown section", `{"messaging-telegram": {}}`,
			[]string{"messaging-telegram: unknown key; remove it"}},
		{"wrong type", wa(ok + `, "api_version": 21`),
			[]string{"messaging-whatsapp.api_version: wrong type: got number, want string; write the value in double quotes"}},
		{"section not an object", `{"messaging-whatsapp": true}`,
			[]string{"messaging-whatsapp: wrong type: got boolean, want object; write an object: { ... }"}},
		{"http outside localhost", wa(strings.Replace(ok, "https://bot", "http://bot", 1)),
			[]string{`messaging-whatsapp.public_base_url: "http://bot.example.com" is not https; ` + urlFix}},
		{"http on 127.0.0.1 api_base_url is fine", wa(ok + `, "api_base_url": "http://127.0.0.1:9999"`), nil},
		{"http on [::1] is fine", wa(ok + `, "api_base_url": "http://[::1]:9999/graph"`), nil},
		{"a reference as URL is fine", wa(ok + `, "api_base_url": "${GRAPH_URL}"`), nil},
		{"URL with a query", wa(ok + `, "api_base_url": "https://graph.example.com/?x=1"`),
			[]string{`messaging-whatsapp.api_base_url: "https://graph.example.com/?x=1": a base URL has no query or fragment; ` + urlFix}},
		{"empty secret", wa(strings.Replace(ok, `"access_token": "${T}"`, `"access_token": ""`, 1)),
			[]string{"messaging-whatsapp.access_token: empty; add a system user access token, preferably as a ${NAME} reference such as ${WHATSAPP_TOKEN}"}},
		{"blank verify token", wa(strings.Replace(ok, `"verify_token": "v"`, `"verify_token": "  "`, 1)),
			[]string{"messaging-whatsapp.verify_token: empty; add a long random string; you paste the same string into the Meta app dashboard"}},
		{"disabled section needs nothing", `{"messaging-messenger": {"enabled": false}}`, nil},
		{"disabled section is still typed", `{"messaging-messenger": {"enabled": false, "page_id": 5}}`,
			[]string{"messaging-messenger.page_id: wrong type: got number, want string; write the value in double quotes"}},
		{"bad tenant", `{"tenant": "Acme Corp"}`,
			[]string{`tenant: "Acme Corp" is not a valid name; use 1 to 63 lowercase letters, digits, - or _, starting with a letter or digit (it becomes part of the webhook URL and a directory name)`}},
		{"short api token", `{"api_token": "short"}`,
			[]string{"api_token: too short or contains spaces; use at least 16 printable characters, a ${NAME} reference, or leave it out to get a random one"}},
		{"api version", wa(ok + `, "api_version": "21"`),
			[]string{`messaging-whatsapp.api_version: "21" is not a Graph API version; write it like v21.0`}},
		{"unclosed reference", wa(strings.Replace(ok, `"${T}"`, `"${WHATSAPP_TOKEN"`, 1)),
			[]string{`messaging-whatsapp.access_token: "${WHATSAPP_TOKEN": the ${ reference is not closed; write it as ${WHATSAPP_TOKEN}`}},
		{"reference with a bad name", wa(strings.Replace(ok, `"${S}"`, `"${META-APP-SECRET}"`, 1)),
			[]string{`messaging-whatsapp.app_secret: "${META-APP-SECRET}" is not a ${NAME} reference; NAME is letters, digits and _, not starting with a digit, such as ${WHATSAPP_TOKEN}`}},
		{"reference with text around it", wa(strings.Replace(ok, `"phone_number_id": "1"`, `"phone_number_id": "id=${PHONE_ID}"`, 1)),
			[]string{`messaging-whatsapp.phone_number_id: "id=${PHONE_ID}" has text around its ${NAME} reference; a reference stands for the whole value: write only ${PHONE_ID}`}},
		{"not an object", `[]`, []string{"(root): wrong type: got array, want object; write an object: { ... }"}},
		{"trailing garbage", `{} {}`, []string{"(root): invalid JSON: invalid character after top-level value; fix the syntax (a missing comma or quote, or a trailing comma)"}},
		{"all at once", `{"team": 1, "x": 2, "messaging-whatsapp": {"enabled": true}, "messaging-instagram": {"public_base_url": "http://example.com", "ig_account_id": "1", "access_token": "t", "verify_token": "v", "app_secret": "s"}}`,
			[]string{
				`messaging-instagram.public_base_url: "http://example.com" is not https; ` + urlFix,
				"messaging-whatsapp.access_token: required; add a system user access token, preferably as a ${NAME} reference such as ${WHATSAPP_TOKEN}",
				"messaging-whatsapp.phone_number_id: required; add the Phone number ID from WhatsApp Manager (or the app dashboard's WhatsApp > API Setup)",
				"messaging-whatsapp.public_base_url: required; add the https URL at which Meta reaches this server, such as https://bot.example.com",
				"messaging-whatsapp.verify_token: required; add a long random string; you paste the same string into the Meta app dashboard",
				"team: wrong type: got number, want string; write the value in double quotes",
				"x: unknown key; remove it",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseAnswers([]byte(tt.in))
			var got []string
			if err != nil {
				var ae *AnswersError
				if !errors.As(err, &ae) {
					t.Fatalf("error %T %v, want *AnswersError", err, err)
				}
				for _, p := range ae.Problems {
					got = append(got, p.String())
				}
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// FuzzAnswers checks that no answers file crashes the parser, and that whatever it accepts
// keeps the promises setup relies on: valid names, every required value of an enabled channel
// present, base URLs https (or localhost, or a reference).
func FuzzAnswers(f *testing.F) {
	f.Add(readExample(f))
	f.Add([]byte(`{"messaging-whatsapp": {"enabled": true}}`))
	f.Add([]byte(`{"tenant": "a", "messaging-messenger": {"public_base_url": "http://localhost", "page_id": "1", "page_access_token": "t", "verify_token": "v", "app_secret": "s"}}`))
	f.Add([]byte(`{"api_token": "${X}", "messaging-instagram": {"enabled": false}}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := ParseAnswers(data)
		if err != nil {
			var ae *AnswersError
			if !errors.As(err, &ae) || len(ae.Problems) == 0 {
				t.Fatalf("error without problems: %v", err)
			}
			for _, p := range ae.Problems {
				if p.Path == "" || p.Message == "" {
					t.Fatalf("problem without path or message: %+v", p)
				}
			}
			return
		}
		if !ValidName(a.Tenant) || !ValidName(a.Team) {
			t.Fatalf("accepted tenant/team %q/%q", a.Tenant, a.Team)
		}
		for _, c := range a.Channels {
			if !c.Enabled {
				continue
			}
			for _, v := range []string{c.PublicBaseURL, c.AccountID, c.Token, c.VerifyToken, c.AppSecret, c.APIVersion, c.APIBaseURL} {
				if strings.TrimSpace(v) == "" {
					t.Fatalf("accepted an enabled %s with an empty value: %+v", c.Name, c)
				}
			}
			for _, u := range []string{c.PublicBaseURL, c.APIBaseURL} {
				if !IsRef(u) && checkURL(u) != "" {
					t.Fatalf("accepted base URL %q: %s", u, checkURL(u))
				}
			}
		}
	})
}

// TestAnswersProblemsAllAtOnce: problems the schema finds, problems of the URLs it lets
// through, and problems of --tenant and --team come back together, not one run at a time.
func TestAnswersProblemsAllAtOnce(t *testing.T) {
	answers := []byte(`{"tenantt": "acme", "messaging-whatsapp": {"public_base_url": "https://user:hunter2@bot.example.com", "phone_number_id": "1", "access_token": "t", "verify_token": "v", "app_secret": "s"}}`)
	_, err := Setup(t.Context(), answers, t.TempDir(), SetupOptions{Tenant: "Bad Name", Seed: testSeed})
	var ae *AnswersError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v", err)
	}
	var paths []string
	for _, p := range ae.Problems {
		paths = append(paths, p.Path)
	}
	if got := strings.Join(paths, " "); got != "tenantt messaging-whatsapp.public_base_url --tenant" {
		t.Errorf("problems at %q:\n%v", got, ae)
	}
	if strings.Contains(ae.Error(), "hunter2") {
		t.Errorf("the URL's password is printed:\n%v", ae)
	}
}
