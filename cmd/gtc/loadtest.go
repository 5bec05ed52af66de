package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/flowgate/flowgate/loadtest"
)

const loadtestUsage = `Usage:
  gtc loadtest [options]                     the scenarios, self-contained: a private redis-server,
                                             gtc serve, the floor and a fake Graph API, all local
  gtc loadtest --target URL [options]        load a deployment of yours (see docs/operations.md)
  gtc loadtest soak [--duration 3m]          steady load while Redis and gtc serve are killed
                                             and the Graph API throttles and fails

Options:
`

// runLoadtest is gtc loadtest.
func runLoadtest(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) > 0 && args[0] == "floor" {
		return runFloor(args[1:], stderr, getenv)
	}
	if len(args) > 0 && args[0] == "soak" {
		return runSoak(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("gtc loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.String("target", "", "webhook `URL` of a deployment (…/webhook/{channel}/{tenant}/{team}); without it, the self-contained scenarios")
	ch := fs.String("channel", "whatsapp", "the webhooks' channel: whatsapp, messenger or instagram (with --target)")
	phone := fs.String("phone-number-id", "", "the deployment's WhatsApp phone number id (with --target; for another channel, --account)")
	account := fs.String("account", "", "the deployment's business account the webhooks are addressed to: WhatsApp phone number id, Facebook Page id or Instagram account id (with --target)")
	graphAddr := fs.String("graph-addr", "127.0.0.1:9090", "where the fake Graph API listens (with --target; point the deployment's api_base_url at it)")
	convs := fs.Int("conversations", 1000, "conversations (users) the messages come from, in turn (with --target)")
	rate := fs.Float64("rate", 0, "open loop: webhooks per second on a fixed schedule (with --target)")
	conns := fs.Int("connections", 16, "closed loop, when --rate is 0: concurrent senders (with --target)")
	duration := fs.Duration("duration", 10*time.Second, "how long to send (with --target)")
	batch := fs.Int("batch", 1, "messages per webhook body (with --target)")
	latency := fs.Duration("graph-latency", 150*time.Millisecond, "the fake Graph API's answer time (with --target)")
	perSecond := fs.Float64("graph-mps", 0, "messages/s per business account before the fake Graph API answers 130429; 0 for no limit (with --target)")
	scale := fs.Float64("scale", 1, "multiplies each scenario's duration")
	memConvs := fs.Int("memory-conversations", 100_000, "conversations of the memory scenario")
	only := fs.String("scenarios", "", "comma-separated scenario names to run (default all)")
	noFloor := fs.Bool("no-floor", false, "skip the floor")
	serveArgs := fs.String("serve-args", "", "extra gtc serve flags, space-separated")
	machine := fs.String("machine", "", "describes the machine in the report")
	jsonOut := fs.String("json", "", "also write the report as JSON to `FILE`")
	fs.Usage = func() {
		fmt.Fprint(stderr, loadtestUsage)
		fs.PrintDefaults()
		fmt.Fprintln(stderr, "\nThe app secret is read from META_APP_SECRET, never from the command line.")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	if *target != "" {
		secret := getenv("META_APP_SECRET")
		if *account == "" {
			*account = *phone
		}
		switch {
		case *ch != "whatsapp" && *ch != "messenger" && *ch != "instagram":
			fmt.Fprintf(stderr, "gtc loadtest: --channel %q: use whatsapp, messenger or instagram\n", *ch)
			return 2
		case secret == "" || *account == "":
			fmt.Fprintln(stderr, "gtc loadtest: --target needs --account (or --phone-number-id) and META_APP_SECRET in the environment")
			return 2
		}
		res, err := loadtest.RunTarget(ctx, loadtest.TargetConfig{
			Gen: loadtest.GenConfig{URL: *target, AppSecret: secret, Channel: *ch, Account: *account, Conversations: *convs,
				Rate: *rate, Connections: *conns, Duration: *duration, Batch: *batch},
			GraphAddr: *graphAddr, Graph: loadtest.GraphConfig{Latency: *latency, PerSecond: *perSecond},
			Drain: 30 * time.Second, Log: stderr})
		if err != nil {
			fmt.Fprintf(stderr, "gtc loadtest: %v\n", err)
			return 1
		}
		sc := loadtest.TargetScenario(*rate, *conns, *convs, *duration, *batch, *latency)
		sc.Channel = *ch
		rep := &loadtest.Report{Machine: *machine, Outcomes: []loadtest.Outcome{{Scenario: sc, Serve: res}}}
		return writeReport(rep, stdout, stderr, *jsonOut)
	}

	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "gtc loadtest: cannot find the gtc binary to run gtc serve with: %v\n", err)
		return 1
	}
	cfg := loadtest.LocalConfig{GTC: self, Scale: *scale, MemoryConversations: *memConvs, NoFloor: *noFloor,
		ServeArgs: strings.Fields(*serveArgs), Machine: *machine, Log: stderr}
	if *only != "" {
		cfg.Only = strings.Split(*only, ",")
	}
	rep, err := loadtest.RunLocal(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "gtc loadtest: %v\n", err)
		return 1
	}
	return writeReport(rep, stdout, stderr, *jsonOut)
}

func writeReport(rep *loadtest.Report, stdout, stderr io.Writer, jsonPath string) int {
	rep.WriteMarkdown(stdout)
	if jsonPath == "" {
		return 0
	}
	f, err := os.Create(jsonPath)
	if err == nil {
		err = rep.WriteJSON(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "gtc loadtest: --json: %v\n", err)
		return 1
	}
	return 0
}

// runFloor is the hidden gtc loadtest floor: the reference server the scenarios compare
// gtc serve with.
func runFloor(args []string, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("gtc loadtest floor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := loadtest.FloorConfig{AppSecret: getenv("META_APP_SECRET"), Token: getenv("WHATSAPP_TOKEN")}
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:8090", "listen `address`")
	fs.StringVar(&cfg.RedisURL, "redis", "redis://127.0.0.1:6379/0", "Redis `URL`")
	fs.StringVar(&cfg.Prefix, "redis-prefix", "floor:", "key `prefix`")
	fs.StringVar(&cfg.GraphURL, "graph", "", "the Graph API base `URL`")
	fs.StringVar(&cfg.Phone, "phone-number-id", "", "the phone number id replies are sent from")
	fs.IntVar(&cfg.Workers, "workers", 8, "workers, each waiting on its send")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := loadtest.RunFloor(ctx, cfg); err != nil {
		fmt.Fprintf(stderr, "gtc loadtest floor: %v\n", err)
		return 1
	}
	return 0
}

func runSoak(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gtc loadtest soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg loadtest.SoakConfig
	fs.DurationVar(&cfg.Duration, "duration", 3*time.Minute, "how long the load lasts; faults at 20%, 45% and 70% of it")
	fs.Float64Var(&cfg.Rate, "rate", 40, "webhooks per second")
	fs.IntVar(&cfg.Conversations, "conversations", 200, "conversations")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "gtc loadtest soak: %v\n", err)
		return 1
	}
	cfg.GTC, cfg.Log = self, stderr
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	rep, err := loadtest.Soak(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "gtc loadtest soak: %v\n", err)
		return 1
	}
	rep.WriteMarkdown(stdout)
	if len(rep.Problems) > 0 {
		return 1
	}
	return 0
}
