package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// browserPath finds a Chromium, installing Debian's package when none is there; "" when none
// can be had.
func browserPath(t *testing.T) string {
	t.Helper()
	find := func() string {
		for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
			if p, err := exec.LookPath(name); err == nil {
				return p
			}
		}
		return ""
	}
	if p := find(); p != "" {
		return p
	}
	var sudo []string
	if os.Getuid() != 0 {
		sudo = []string{"sudo", "-n"}
	}
	for _, args := range [][]string{{"apt-get", "install", "-y", "-qq", "chromium"}, {"apt-get", "update", "-qq"}, {"apt-get", "install", "-y", "-qq", "chromium"}} {
		cmd := append(append([]string(nil), sudo...), args...)
		out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput()
		t.Logf("%s: %v\n%s", strings.Join(cmd, " "), err, out)
		if p := find(); p != "" {
			return p
		}
	}
	return ""
}

// TestConsoleInBrowser drives the dev console's page in headless Chromium, as a newcomer
// after make run would: chat, tap a button, move the clock past the window, start a shipping
// notice and see its fallback template, then save the conversation as a test case, which
// must replay green.
func TestConsoleInBrowser(t *testing.T) {
	chrome := browserPath(t)
	if chrome == "" {
		t.Skip("\n\n*** NO BROWSER: Chromium is not installed and could not be installed " +
			"(apt-get install -y chromium, as root or through sudo): THE DEV CONSOLE'S BROWSER TEST DID NOT RUN ***\n\n")
	}
	dir := sandboxFlows(t)
	p := startServe(t, dir, "", "fg:", "--sandbox")
	downloads := t.TempDir()

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chrome),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1600, 900),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	defer cancelBrowser()

	const ann = `section.conv[data-user="16505551234"] `
	const bob = `section.conv[data-user="16505550123"] `
	// has waits until the page's text under sel contains want.
	has := func(sel, want string) chromedp.Action[chromedp.Void] {
		poll := chromedp.Poll[bool](`(document.querySelector(`+jsString(sel)+`)?.innerText || "").includes(`+jsString(want)+`)`,
			chromedp.WithPollingInterval(50*time.Millisecond))
		return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			if _, err := poll(ctx, t); err != nil {
				return fmt.Errorf("waiting for %q in %s: %w", want, sel, err)
			}
			return nil
		})
	}
	var png []byte
	screenshot := chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		var err error
		png, err = chromedp.CaptureScreenshot()(ctx, t)
		return err
	})
	_, err := chromedp.CallBrowser(bctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads})
	if err != nil {
		t.Fatalf("downloads: %v", err)
	}
	err = chromedp.Do(bctx,
		chromedp.Navigate("http://"+p.addr+"/dev/"),
		has("#status", "live"),
		chromedp.WaitVisible(chromedp.CSS(ann+".composer .text")),
		chromedp.SendKeys(chromedp.CSS(ann+".composer .text"), "hi"),
		chromedp.Click(chromedp.CSS(ann+".composer .send")),
		chromedp.WaitVisible(chromedp.CSS(ann+`.buttons button[data-id="help"]`)),
		has(ann+".window", "window closes in 23 h 59 m"),
		chromedp.Click(chromedp.CSS(ann+`.buttons button[data-id="help"]`)),
		has(ann+".chat", "Here's how I can help"),
		chromedp.Click(chromedp.CSS(ann+`button[data-advance="25h"]`)),
		has(ann+".window", "window closed"),
		chromedp.SetValue(chromedp.CSS(ann+".flow"), "order_shipped"),
		chromedp.SendKeys(chromedp.CSS(ann+".vars"), "customer_name=Ann, order_id=1042"),
		chromedp.Click(chromedp.CSS(ann+".start")),
		has(ann+".chat", "order_shipped (en)"),
		has(ann+".chat", "1042"),
		has(ann+".trace", "fallback"),
		// Bob, beside Ann, opens the support list and picks a row.
		chromedp.SendKeys(chromedp.CSS(bob+".composer .text"), "support"),
		chromedp.Click(chromedp.CSS(bob+".composer .send")),
		chromedp.WaitVisible(chromedp.CSS(bob+".open-list")),
		chromedp.Click(chromedp.CSS(bob+".open-list")),
		chromedp.WaitVisible(chromedp.CSS(bob+".sheet .row")),
		chromedp.Click(chromedp.CSS(bob+".sheet .row")),
		has(bob+".trace", "you: "),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool]("window.scrollTo(0, 0), true")(ctx, t)
			return err
		}),
		chromedp.Sleep(300*time.Millisecond), // let the last bubbles paint for the screenshot
		screenshot,
		chromedp.Click(chromedp.CSS(ann+".save")),
	)
	if err != nil {
		t.Fatalf("driving the console: %v\nserver output:\n%s", err, p.out.String())
	}
	shot := filepath.Join(t.ArtifactDir(), "console.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", shot)
	if *consolePNG != "" {
		if err := os.WriteFile(*consolePNG, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	saved := filepath.Join(downloads, "console_16505551234.test.yaml")
	waitFor(t, 20*time.Second, "the saved case to be downloaded", func() bool {
		_, err := os.Stat(saved)
		return err == nil
	})
	replay(t, dir, saved)
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}
