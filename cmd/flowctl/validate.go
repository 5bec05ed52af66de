package main

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/flowgate/flowgate/engine"
	"github.com/flowgate/flowgate/internal/bundle"
	"github.com/flowgate/flowgate/providers"
)

// validate checks flows and bundles and prints every problem as file:line:col: severity:
// message. It exits 1 on any error, and when it found no flow to check (a check that checks
// nothing must not pass); warnings alone pass.
func validate(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("flowctl validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: flowctl validate [PATH...]\n\nPATH is a bundle directory, a directory of flows or a flow file (default: the bundle in .).")
	}
	paths, err := parse(fs, args)
	if err != nil {
		return exitCode(err)
	}
	if len(paths) == 0 {
		paths = []string{"."}
	}
	var all engine.Diagnostics
	var loose, looked []string
	flows := 0
	limits := providers.Registry().Limits()
	for _, p := range paths {
		if bundle.IsBundle(p) {
			b, ds := bundle.LoadWith(p, bundle.LoadOptions{Getenv: getenv, Limits: limits, Offline: true})
			all = append(all, ds...)
			flows += len(b.Flows)
			looked = append(looked, filepath.Join(p, bundle.FlowsDir))
			continue
		}
		loose = append(loose, p)
		looked = append(looked, p)
	}
	if len(loose) > 0 {
		_, fl, ds := bundle.LoadFlows(limits, loose...)
		all = append(all, ds...)
		flows += len(fl)
	}
	errs, warns := 0, 0
	for _, d := range all {
		fmt.Fprintln(stdout, d)
		if d.Severity == engine.SevError {
			errs++
		} else {
			warns++
		}
	}
	fmt.Fprintf(stderr, "%d flow(s) checked: %d error(s), %d warning(s)\n", flows, errs, warns)
	if flows == 0 && errs == 0 {
		fmt.Fprintf(stderr, "flowctl validate: no flows found in %s (flow files are *.yaml or *.yml; a bundle keeps them in %s/)\n",
			strings.Join(looked, ", "), bundle.FlowsDir)
		return 1
	}
	if errs > 0 {
		return 1
	}
	return 0
}
