package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/internal/secret"
	"github.com/flowgate/flowgate/pipeline"
	"github.com/flowgate/flowgate/providers/whatsapp"
	"github.com/flowgate/flowgate/server"
)

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	if status, body := h.do("GET", "/healthz", nil, nil); status != http.StatusOK || body != "ok" {
		t.Errorf("/healthz: %d %q", status, body)
	}
	if status, body := h.do("GET", "/readyz", nil, nil); status != http.StatusOK {
		t.Errorf("/readyz: %d %q", status, body)
	}

	h.store.down.Store(true)
	status, body := h.do("GET", "/readyz", nil, nil)
	if status != http.StatusServiceUnavailable || !strings.Contains(body, "store") {
		t.Errorf("/readyz with the store down: %d %q", status, body)
	}
	if status, _ := h.do("GET", "/healthz", nil, nil); status != http.StatusOK {
		t.Errorf("/healthz with the store down: %d", status)
	}
	h.store.down.Store(false)

	h.srv.Swap(nil)
	status, body = h.do("GET", "/readyz", nil, nil)
	if status != http.StatusServiceUnavailable || !strings.Contains(body, "bundle") {
		t.Errorf("/readyz without a site: %d %q", status, body)
	}
}

// TestSwap: a new site replaces the secrets and endpoints at once.
func TestSwap(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	body := webhook(t, "text.json")
	h.srv.Swap(&server.Site{DefaultTenant: tenant, DefaultTeam: team, APIToken: "new-token",
		Endpoints: []server.Endpoint{{Channel: h.ch, Webhook: whatsapp.Provider{}, AppSecret: "rotated", VerifyToken: verifyToken}}})
	if status, _ := h.do("POST", "/webhook/whatsapp", body, signed(body, appSecret)); status != http.StatusUnauthorized {
		t.Errorf("old app secret: %d", status)
	}
	if status, _ := h.do("POST", "/webhook/whatsapp", body, signed(body, "rotated")); status != http.StatusOK {
		t.Errorf("new app secret: %d", status)
	}
	if status, _ := h.do("GET", "/api/v1/acme/support/handoffs", nil, bearerHeader(apiToken)); status != http.StatusUnauthorized {
		t.Errorf("old API token: %d", status)
	}
	if status, _ := h.do("GET", "/api/v1/acme/support/handoffs", nil, bearerHeader("new-token")); status != http.StatusOK {
		t.Errorf("new API token: %d", status)
	}
}

// TestPanicRecovered: a panic while handling a request is answered 500, logged and counted,
// and the server keeps serving.
func TestPanicRecovered(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	boom := &pipeline.Channel{Name: msg.Messenger, Tenant: tenant, Team: team, Account: "1",
		Parse: func([]byte) ([]msg.Event, error) { panic("parser bug") }, Sender: h.sender}
	h.srv.Swap(&server.Site{DefaultTenant: tenant, DefaultTeam: team, APIToken: apiToken, Endpoints: []server.Endpoint{
		{Channel: h.ch, Webhook: whatsapp.Provider{}, AppSecret: appSecret, VerifyToken: verifyToken},
		{Channel: boom, Webhook: whatsapp.Provider{}, AppSecret: appSecret, VerifyToken: verifyToken},
	}})
	body := []byte(`{"object":"page"}`)
	if status, _ := h.do("POST", "/webhook/messenger", body, signed(body, appSecret)); status != http.StatusInternalServerError {
		t.Errorf("panicking parser: %d", status)
	}
	if !strings.Contains(h.logs.String(), "parser bug") {
		t.Errorf("panic not logged:\n%s", h.logs.String())
	}
	if !strings.Contains(h.scrape(), "flowgate_panics_total 1") {
		t.Error("panic not counted")
	}
	if status, _ := h.do("GET", "/healthz", nil, nil); status != http.StatusOK {
		t.Errorf("after the panic: %d", status)
	}
}

// The secret type keeps the site's tokens out of fmt too.
func TestSiteDoesNotPrintSecrets(t *testing.T) {
	t.Parallel()
	s := server.Site{APIToken: apiToken, Endpoints: []server.Endpoint{{AppSecret: appSecret, VerifyToken: secret.String(verifyToken)}}}
	for _, out := range []string{fmt.Sprintf("%+v", s), fmt.Sprintf("%#v", s)} {
		for _, sec := range []string{apiToken, appSecret, verifyToken} {
			if strings.Contains(out, sec) {
				t.Errorf("printed %s", out)
			}
		}
	}
}
