package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/flowgate/flowgate/internal/bundle"
	"github.com/flowgate/flowgate/internal/secret"
	"github.com/flowgate/flowgate/pipeline"
	"github.com/flowgate/flowgate/providers/channel"
	"github.com/flowgate/flowgate/server"
	"github.com/flowgate/flowgate/server/devconsole"
)

// wiring builds what gtc serve runs from a bundle, at start and at every reload.
type wiring struct {
	cfg     *serveConfig
	log     *slog.Logger
	metrics *server.Metrics
	limiter channel.Pacer
	http    *http.Client      // the senders' (nil: the providers' default)
	reg     *channel.Registry // the channels this build serves
	sandbox *sandbox          // sandbox mode: nil outside it
	console *devconsole.Console
	site    atomic.Pointer[server.Site] // the site last loaded
}

// load reads and validates the bundle and builds the pipeline's bundle and the server's site
// from it. Any error leaves what runs untouched.
func (w *wiring) load(getenv func(string) string) (*pipeline.Bundle, *server.Site, error) {
	if w.sandbox != nil {
		return w.loadSandbox(getenv)
	}
	b, ds := bundle.LoadWith(w.cfg.dir, bundle.LoadOptions{Getenv: getenv, Limits: w.reg.Limits()})
	if ds.HasErrors() {
		return nil, nil, fmt.Errorf("bundle %s is invalid: %w", w.cfg.dir, ds.Err())
	}
	for _, d := range ds {
		w.log.Warn("bundle", "problem", d.String())
	}
	eng := b.Engine.WithHTTP(pipeline.HTTPClient{Client: &http.Client{}})
	pb := &pipeline.Bundle{Engine: eng}
	site := &server.Site{DefaultTenant: b.DefaultTenant, DefaultTeam: b.DefaultTeam, APIToken: secret.String(b.APIToken)}
	for _, c := range b.Channels {
		if c.AppSecret == "" && !w.cfg.insecure {
			return nil, nil, fmt.Errorf("%s: %s has no app_secret: webhooks cannot be verified (--insecure-skip-signature for local experiments)", c.File, c.Name)
		}
		ch, p := w.channel(c)
		if ch == nil {
			continue
		}
		pb.Channels = append(pb.Channels, ch)
		site.Endpoints = append(site.Endpoints, server.Endpoint{Channel: ch, Webhook: p, AppSecret: secret.String(c.AppSecret), VerifyToken: secret.String(c.VerifyToken)})
	}
	if len(pb.Channels) == 0 {
		return nil, nil, fmt.Errorf("bundle %s enables no channel this build can serve: nothing to listen for (gtc setup --answers answers.json %s)", w.cfg.dir, w.cfg.dir)
	}
	w.site.Store(site)
	return pb, site, nil
}

// channel builds one channel account with its provider, or nil for a channel this build has
// no provider for.
func (w *wiring) channel(c bundle.Channel) (*pipeline.Channel, channel.Provider) {
	p := w.reg.Lookup(c.Name)
	if p == nil {
		w.log.Warn("no provider for this channel in this build: skipped", "channel", c.Name, "file", c.File)
		return nil, nil
	}
	name := c.Name
	opts := channel.SendOptions{HTTPClient: w.http, Pacer: w.limiter, Logger: w.log, OnRetry: func(code int) { w.metrics.Retry(name, code) }}
	if w.sandbox != nil {
		opts.HTTPClient = &http.Client{Transport: w.sandbox.graph}
	}
	sender := p.NewSender(channel.Account{ID: c.AccountID, Token: c.Token, APIVersion: c.APIVersion, BaseURL: c.APIBaseURL}, opts)
	return &pipeline.Channel{Name: c.Name, Tenant: c.Tenant, Team: c.Team, Account: c.AccountID, App: appKey(c.AppSecret), Parse: p.Parse, Sender: sender}, p
}

// appKey names the Meta app whose secret signs a channel's webhooks without holding the
// secret: channels with the same key are on the same app.
func appKey(secret string) string {
	sum := sha256.Sum256([]byte("flowgate app key\x00" + secret))
	return hex.EncodeToString(sum[:8])
}

// watch reloads the bundle on SIGHUP and when its files change, until ctx is done; the
// returned channel is closed when it has stopped. A bundle that fails to load is logged and
// the running one kept.
func (w *wiring) watch(ctx context.Context, getenv func(string) string, p *pipeline.Pipeline, srv *server.Server) <-chan struct{} {
	stopped := make(chan struct{})
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		w.log.Warn("bundle files are not watched: reload with SIGHUP", "err", err)
	} else {
		for _, d := range bundleDirs(w.cfg.dir) {
			if err := fw.Add(d); err != nil {
				w.log.Debug("not watched", "dir", d, "err", err)
			}
		}
	}
	go func() {
		defer close(stopped)
		defer signal.Stop(hup)
		var events <-chan fsnotify.Event
		var errs <-chan error
		if fw != nil {
			defer fw.Close()
			events, errs = fw.Events, fw.Errors
		}
		var debounce <-chan time.Time
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				w.reload("SIGHUP", getenv, p, srv)
			case err := <-errs:
				// An overflow loses events: reload, to be sure to serve what is on disk.
				w.log.Warn("watching the bundle's files", "err", err)
				debounce = time.After(300 * time.Millisecond)
			case ev := <-events:
				if strings.HasPrefix(filepath.Base(ev.Name), ".") && filepath.Base(ev.Name) != bundle.EnvFile {
					continue // editor swap files
				}
				debounce = time.After(300 * time.Millisecond)
			case <-debounce:
				debounce = nil
				w.reload("file change", getenv, p, srv)
			}
		}
	}()
	return stopped
}

func (w *wiring) reload(why string, getenv func(string) string, p *pipeline.Pipeline, srv *server.Server) {
	pb, site, err := w.load(getenv)
	if w.console != nil {
		w.console.BundleLoaded(err)
	}
	if err != nil {
		w.log.Error("bundle reload failed: still serving the previous bundle", "trigger", why, "err", err)
		w.metrics.Reload(false)
		return
	}
	p.SetBundle(pb)
	srv.Swap(site)
	w.metrics.Reload(true)
	w.log.Info("bundle reloaded", "trigger", why, "flows", len(pb.Engine.Flows()), "channels", len(pb.Channels))
}

// bundleDirs lists the directories whose files make up the bundle.
func bundleDirs(dir string) []string {
	dirs := []string{dir, filepath.Join(dir, bundle.FlowsDir)}
	filepath.WalkDir(filepath.Join(dir, bundle.ProvidersDir), func(path string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, path)
		}
		return nil
	})
	return dirs
}
