package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"

	"github.com/flowgate/flowgate/engine"
	"github.com/flowgate/flowgate/internal/bundle"
	"github.com/flowgate/flowgate/internal/secret"
	"github.com/flowgate/flowgate/pipeline"
	"github.com/flowgate/flowgate/providers/whatsapp"
	"github.com/flowgate/flowgate/server"
	"github.com/flowgate/flowgate/server/devconsole"
)

// The sandbox's WhatsApp account: ids that reach nothing, since its sends go to the fake
// Graph API.
const (
	sandboxAccount = "100000000000001"
	sandboxToken   = "sandbox-token"
	sandboxGraph   = "https://graph.sandbox.invalid"
)

// sandbox is what gtc serve --sandbox puts in place of a bundle's channels: one WhatsApp
// account with secrets generated for this process, sending to a fake Graph API.
type sandbox struct {
	graph       *devconsole.Graph
	appSecret   string
	verifyToken string
}

// newSandbox returns the sandbox, or nil when on is false.
func newSandbox(on bool) *sandbox {
	if !on {
		return nil
	}
	return &sandbox{graph: devconsole.NewGraph(whatsapp.Provider{}), appSecret: randomHex(), verifyToken: randomHex()}
}

func randomHex() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// loadSandbox loads the flows of a bundle, or of a directory with flows/ (and
// flows/templates.yaml), and serves them on the sandbox's account. A bundle's channels and
// their ${NAME} references are not used.
func (w *wiring) loadSandbox(getenv func(string) string) (*pipeline.Bundle, *server.Site, error) {
	dir := w.cfg.dir
	var eng *engine.Engine
	var ds engine.Diagnostics
	tenant, team, apiToken := "default", "default", ""
	if bundle.IsBundle(dir) {
		var b *bundle.Bundle
		b, ds = bundle.LoadWith(dir, bundle.LoadOptions{Getenv: getenv, Limits: w.reg.Limits(), Offline: true})
		eng, tenant, team, apiToken = b.Engine, b.DefaultTenant, b.DefaultTeam, b.APIToken
	} else {
		flowsDir := filepath.Join(dir, bundle.FlowsDir)
		if st, err := os.Stat(flowsDir); err != nil || !st.IsDir() {
			return nil, nil, fmt.Errorf("%s is neither a bundle nor a directory with flows/: nothing to serve", dir)
		}
		eng, _, ds = bundle.LoadFlows(w.reg.Limits(), flowsDir)
	}
	if ds.HasErrors() {
		return nil, nil, fmt.Errorf("the flows of %s are invalid: %w", dir, ds.Err())
	}
	for _, d := range ds {
		w.log.Warn("flows", "problem", d.String())
	}
	ch, _ := w.channel(bundle.Channel{Tenant: tenant, Team: team, Name: devconsole.Channel, AccountID: sandboxAccount,
		Token: sandboxToken, AppSecret: w.sandbox.appSecret, VerifyToken: w.sandbox.verifyToken,
		APIVersion: "v21.0", APIBaseURL: sandboxGraph, File: "(sandbox)"})
	if ch == nil {
		return nil, nil, fmt.Errorf("this build has no WhatsApp provider: the sandbox cannot run")
	}
	pb := &pipeline.Bundle{Engine: eng.WithHTTP(pipeline.HTTPClient{Client: &http.Client{}}), Channels: []*pipeline.Channel{ch}}
	site := &server.Site{DefaultTenant: tenant, DefaultTeam: team, APIToken: secret.String(apiToken),
		Endpoints: []server.Endpoint{{Channel: ch, Webhook: whatsapp.Provider{},
			AppSecret: secret.String(w.sandbox.appSecret), VerifyToken: secret.String(w.sandbox.verifyToken)}}}
	w.site.Store(site)
	return pb, site, nil
}

// newConsole builds the dev console over p, posting its webhooks to the server's handler.
func (w *wiring) newConsole(p *pipeline.Pipeline, webhooks http.Handler) *devconsole.Console {
	o := devconsole.Options{Pipeline: p, Webhooks: webhooks, Log: w.log}
	if w.sandbox != nil {
		// Two contacts to start with; outside the sandbox, whoever is typed in gets real
		// messages, so nobody is there until added.
		o.Graph, o.Sandbox = w.sandbox.graph, true
		o.Contacts = []devconsole.Contact{{User: "16505551234", Name: "Ann"}, {User: "16505550123", Name: "Bob"}}
	}
	o.AppSecret = func(ch *pipeline.Channel) string {
		site := w.site.Load()
		if site == nil {
			return ""
		}
		for _, ep := range site.Endpoints {
			if ep.Channel.Name == ch.Name && ep.Channel.Tenant == ch.Tenant && ep.Channel.Team == ch.Team {
				return ep.AppSecret.Reveal()
			}
		}
		return ""
	}
	return devconsole.New(o)
}

// consoleURL is the address to open the dev console at.
func consoleURL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String() + "/dev/"
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() || ip.IsLoopback() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port) + "/dev/"
}
