package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/flowgate/flowgate/engine"
	"github.com/flowgate/flowgate/flowtest"
	"github.com/flowgate/flowgate/internal/bundle"
	"github.com/flowgate/flowgate/providers"
)

// test replays test cases. Exit 0 when all pass, 1 when any fails or none was found or matched
// --run, 2 on usage or load errors.
// With --update, cases are judged as they stand after their expectations were rewritten.
func test(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("flowctl test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("bundle", ".", "the bundle whose flows the cases run against (a bundle, or a directory with flows/)")
	runRE := fs.String("run", "", "run only the cases whose name matches this regular expression")
	update := fs.Bool("update", false, "write each step's actual messages into its case as the expectations")
	junit := fs.String("junit", "", "also write a JUnit XML report to this file")
	verbose := fs.Bool("v", false, "print every step's trace")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: flowctl test [--bundle DIR] [--run REGEX] [--update] [--junit FILE] [-v] [PATH...]\n\nPATH is a case file (*.test.yaml) or a directory of them (default: DIR/tests).")
		fs.PrintDefaults()
	}
	paths, err := parse(fs, args)
	if err != nil {
		return exitCode(err)
	}
	var filter *regexp.Regexp
	if *runRE != "" {
		if filter, err = regexp.Compile(*runRE); err != nil {
			fmt.Fprintf(stderr, "flowctl test: --run: %v\n", err)
			return 2
		}
	}
	opts, ok := loadOptions(*dir, stdout, stderr, getenv)
	if !ok {
		return 2
	}
	if len(paths) == 0 {
		paths = []string{filepath.Join(*dir, "tests")}
	}
	files, err := flowtest.FindCases(paths...)
	if err != nil {
		fmt.Fprintf(stderr, "flowctl test: %v\n", err)
		return 2
	}
	if len(files) == 0 {
		fmt.Fprintf(stderr, "flowctl test: no test cases found in %s (case files are named *.test.yaml)\n", strings.Join(paths, ", "))
		return 1
	}
	var cases []*flowtest.Case
	for _, f := range files {
		c, err := flowtest.LoadCase(f)
		if err != nil {
			fmt.Fprintf(stderr, "%v\n", err)
			return 2
		}
		if filter == nil || filter.MatchString(c.Name) {
			cases = append(cases, c)
		}
	}
	if len(cases) == 0 {
		fmt.Fprintf(stderr, "flowctl test: no test case matches --run %q (%d case(s) in %s)\n", *runRE, len(files), strings.Join(paths, ", "))
		return 1
	}
	ctx := context.Background()
	var results []*flowtest.Result
	for _, c := range cases {
		r := flowtest.Run(ctx, c, opts)
		if *update {
			changed, err := flowtest.Update(r)
			if err != nil {
				fmt.Fprintf(stderr, "flowctl test: %v\n", err)
				return 2
			}
			if changed {
				fmt.Fprintf(stderr, "updated %s\n", c.File)
				// Report the case as it now stands: what --update cannot fix (unused mocks,
				// state checks, steps that fail to run) still fails.
				if c, err = flowtest.LoadCase(c.File); err != nil {
					fmt.Fprintf(stderr, "%v\n", err)
					return 2
				}
				r = flowtest.Run(ctx, c, opts)
			}
		}
		results = append(results, r)
	}
	flowtest.Print(stdout, results, *verbose)
	if *junit != "" {
		if err := flowtest.WriteJUnit(*junit, results); err != nil {
			fmt.Fprintf(stderr, "flowctl test: %v\n", err)
			return 2
		}
	}
	for _, r := range results {
		if !r.Passed() {
			return 1
		}
	}
	return 0
}

// loadOptions loads the flows the cases run against: a bundle, or a directory whose flows/
// holds flow files (as this repository's own examples do).
func loadOptions(dir string, stdout, stderr io.Writer, getenv func(string) string) (flowtest.Options, bool) {
	var opts flowtest.Options
	var ds engine.Diagnostics
	channels := providers.Registry()
	if bundle.IsBundle(dir) {
		b, bds := bundle.LoadWith(dir, bundle.LoadOptions{Getenv: getenv, Limits: channels.Limits(), Offline: true})
		ds = bds
		opts = flowtest.Options{Engine: b.Engine, Channels: channels, Tenant: b.DefaultTenant, Team: b.DefaultTeam, DedupTTL: b.DedupTTL}
	} else {
		flowsDir := filepath.Join(dir, bundle.FlowsDir)
		if _, err := os.Stat(flowsDir); err != nil {
			fmt.Fprintf(stderr, "flowctl test: %s is not a bundle and has no flows/ directory\n", dir)
			return opts, false
		}
		eng, _, fds := bundle.LoadFlows(channels.Limits(), flowsDir)
		ds = fds
		opts = flowtest.Options{Engine: eng, Channels: channels}
	}
	if ds.HasErrors() {
		for _, d := range ds {
			fmt.Fprintln(stderr, d)
		}
		return opts, false
	}
	return opts, true
}
