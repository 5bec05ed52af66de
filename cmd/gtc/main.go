// Command gtc is Flowgate's operator CLI: gtc setup creates or updates a bundle from an answers
// file (or interactive questions), gtc serve runs the webhook server, gtc loadtest measures a
// deployment under load, gtc version says which build this is.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/flowgate/flowgate/internal/bundle"
	"github.com/flowgate/flowgate/internal/version"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}

const usage = `gtc is Flowgate's operator CLI.

Usage:
  gtc setup [--answers FILE] [--tenant T] [--team T] [--dry-run] [--check] [DIR]
  gtc serve [--addr :8080] [--redis URL] [--workers N] [--record DIR] [DIR]
  gtc loadtest [--target URL] [options] | gtc loadtest soak [--duration D]
  gtc version

Run "gtc setup -h", "gtc serve -h" and "gtc loadtest -h" for the options.
`

// run is the whole command, with its environment passed in so that tests drive it in-process.
// Exit codes: 0 ok, 1 failure (such as a failed --check), 2 usage or answers errors.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "setup":
		return runSetup(args[1:], stdin, stdout, stderr, getenv)
	case "serve":
		return runServe(args[1:], stderr, getenv)
	case "loadtest":
		return runLoadtest(args[1:], stdout, stderr, getenv)
	case "version":
		fmt.Fprintln(stdout, "gtc", version.String())
		return 0
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "gtc: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}

// isTerminal reports whether stdin is a terminal, so that setup may ask its questions. A reader
// with an IsTerminal method (as tests pass) answers for itself.
func isTerminal(r io.Reader) bool {
	if t, ok := r.(interface{ IsTerminal() bool }); ok {
		return t.IsTerminal()
	}
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func runSetup(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("gtc setup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	answersPath := fs.String("answers", "", "the answers `file` (see answers.example.json; - for stdin); without it, on a terminal, gtc asks")
	tenant := fs.String("tenant", "", "tenant, overriding the answers")
	team := fs.String("team", "", "team, overriding the answers")
	dryRun := fs.Bool("dry-run", false, "print the changes as a diff and write nothing")
	check := fs.Bool("check", false, "ask the Graph API whether each enabled channel's credentials work")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: gtc setup [--answers FILE] [--tenant T] [--team T] [--dry-run] [--check] [DIR]")
		fmt.Fprintln(stderr, "\nCreates or updates the bundle in DIR (default ./bundle) from the answers. Options:")
		fs.PrintDefaults()
	}
	// Flags may come before or after the directory.
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) > 1 {
		fmt.Fprintf(stderr, "gtc setup: one bundle directory, not %d (%s)\n", len(pos), strings.Join(pos, " "))
		return 2
	}
	dir := "./bundle"
	if len(pos) == 1 {
		dir = pos[0]
	}

	var answers []byte
	var err error
	switch {
	case *answersPath == "-":
		answers, err = io.ReadAll(stdin)
	case *answersPath != "":
		answers, err = os.ReadFile(*answersPath)
	case isTerminal(stdin):
		answers, err = bundle.Prompt(stdin, stdout)
	default:
		fmt.Fprintln(stderr, "gtc setup: --answers FILE is required when stdin is not a terminal (see answers.example.json)")
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "gtc setup: %v\n", err)
		return 2
	}

	ctx := context.Background()
	rep, err := bundle.Setup(ctx, answers, dir, bundle.SetupOptions{Tenant: *tenant, Team: *team, DryRun: *dryRun})
	var ae *bundle.AnswersError
	if errors.As(err, &ae) {
		name := *answersPath
		if name == "" || name == "-" {
			name = "the answers"
		}
		fmt.Fprintf(stderr, "gtc setup: %s: %d problem(s); the bundle was not touched:\n", name, len(ae.Problems))
		for _, p := range ae.Problems {
			fmt.Fprintf(stderr, "  %s\n", p)
		}
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "gtc setup: %v\n", err)
		return 1
	}
	printReport(stdout, rep, getenv)

	if *check {
		hc := &http.Client{Timeout: 20 * time.Second}
		results := bundle.Check(ctx, hc, rep.Answers, dir, getenv)
		if len(results) == 0 {
			fmt.Fprintln(stdout, "\ncheck: no channel is enabled, nothing to check")
		}
		failed := 0
		for _, r := range results {
			if r.Err != nil {
				failed++
				fmt.Fprintf(stdout, "\ncheck FAILED: %s\n", r)
			} else {
				fmt.Fprintf(stdout, "\ncheck ok: %s\n", r)
			}
		}
		if failed > 0 {
			fmt.Fprintf(stderr, "gtc setup: --check: %d of %d channel(s) failed\n", failed, len(results))
			return 1
		}
	}
	return 0
}

func printReport(w io.Writer, rep *bundle.SetupReport, getenv func(string) string) {
	if rep.DryRun {
		fmt.Fprintf(w, "gtc setup: dry run for %s: nothing is written\n", rep.Dir)
	} else {
		fmt.Fprintf(w, "gtc setup: bundle %s\n", rep.Dir)
	}
	counts := map[bundle.Action]int{}
	for _, c := range rep.Changes {
		counts[c.Action]++
		switch c.Action {
		case bundle.Unchanged:
			continue
		case bundle.Keep:
			fmt.Fprintf(w, "  keep    %s (%s)\n", c.Path, c.Note)
		default:
			mode := ""
			if c.Mode&0o077 == 0 {
				mode = fmt.Sprintf(" (mode %04o)", c.Mode)
			}
			fmt.Fprintf(w, "  %-7s %s%s\n", c.Action, c.Path, mode)
		}
		if c.Diff != "" {
			fmt.Fprint(w, indent(c.Diff, "    "))
		}
	}
	if !rep.Changed() {
		fmt.Fprintln(w, "no changes")
	} else {
		verb := ""
		if rep.DryRun {
			verb = "would be "
		}
		fmt.Fprintf(w, "%d file(s) %screated, %d %supdated, %d %schmodded, %d unchanged, %d kept\n",
			counts[bundle.Create], verb, counts[bundle.Update], verb, counts[bundle.Chmod], verb, counts[bundle.Unchanged], counts[bundle.Keep])
	}

	if len(rep.Channels) == 0 {
		fmt.Fprintln(w, "\nNo channel is enabled in the answers.")
	}
	for _, c := range rep.Channels {
		fmt.Fprintf(w, "\n%s (tenant %s, team %s): in the Meta app dashboard, Webhooks:\n", c.Name, c.Tenant, c.Team)
		fmt.Fprintf(w, "  callback URL:   %s\n", resolveShown(c.CallbackURL, getenv))
		fmt.Fprintf(w, "  verify token:   %s\n", resolveShown(c.VerifyToken, getenv))
		fmt.Fprintf(w, "  webhook fields: %s\n", strings.Join(c.Fields, ", "))
	}
	if len(rep.Refs) > 0 {
		var unset []string
		for _, n := range rep.Refs {
			if getenv(n) == "" {
				unset = append(unset, n)
			}
		}
		fmt.Fprintf(w, "\nThe bundle reads %s from the environment when it is loaded", strings.Join(rep.Refs, ", "))
		if len(unset) > 0 {
			fmt.Fprintf(w, "; not set here: %s", strings.Join(unset, ", "))
		}
		fmt.Fprintln(w, ".")
	}
}

// resolveShown shows a value for the operator to paste: a ${NAME} reference (whole, or at the
// start of a callback URL) is replaced by the environment's value when it is set.
func resolveShown(s string, getenv func(string) string) string {
	if !strings.HasPrefix(s, "${") {
		return s
	}
	end := strings.Index(s, "}")
	if end < 0 {
		return s
	}
	name := bundle.RefName(s[:end+1])
	if v := getenv(name); name != "" && v != "" {
		return v + s[end+1:]
	}
	return s + " (" + name + " is not set here: use its value)"
}

func indent(s, prefix string) string {
	lines := strings.SplitAfter(s, "\n")
	var b strings.Builder
	for _, l := range lines {
		if l != "" {
			b.WriteString(prefix + l)
		}
	}
	return b.String()
}
