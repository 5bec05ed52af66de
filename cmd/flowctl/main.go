// Command flowctl is the flow author's tool: it validates flows, replays test cases against
// them and draws them.
//
//	flowctl validate [PATH...]
//	flowctl test [--bundle DIR] [--run REGEX] [--update] [--junit FILE] [-v] [PATH...]
//	flowctl graph FLOW.yaml [--format mermaid|dot]
//	flowctl chat [--bundle DIR] [--channel NAME] [--contact ID] [--name NAME] [--mocks FILE] [--clock TIME] [-v]
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/flowgate/flowgate/internal/version"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}

const usage = `usage: flowctl <command> [arguments]

commands:
  validate [PATH...]     check flow files, directories of flows or a bundle (default: .)
  test [PATH...]         replay test cases against a bundle's flows
  graph FLOW.yaml        draw a flow as a mermaid or dot diagram
  chat                   talk to a bundle's flows in the terminal, as a user would
  version                print the version

Run flowctl help <command> (or flowctl <command> -h) for a command's flags.
`

// run is flowctl without the process around it, so that tests drive it directly. It returns
// the exit code: 0 success, 1 failure (invalid flows, failing cases), 2 usage or load errors.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "validate":
		return validate(args[1:], stdout, stderr, getenv)
	case "test":
		return test(args[1:], stdout, stderr, getenv)
	case "graph":
		return graph(args[1:], stdout, stderr)
	case "chat":
		return chat(args[1:], stdin, stdout, stderr, getenv)
	case "version":
		fmt.Fprintf(stdout, "flowctl %s\n", version.String())
		return 0
	case "help", "-h", "--help":
		if len(args) > 1 && args[0] == "help" {
			switch args[1] {
			case "validate", "test", "graph", "chat":
				// A command's help, asked for, is the output: stdout, exit 0.
				return run([]string{args[1], "-h"}, stdin, stdout, stdout, getenv)
			case "version", "help":
			default:
				fmt.Fprintf(stderr, "flowctl help: unknown command %q\n\n%s", args[1], usage)
				return 2
			}
		}
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "flowctl: unknown command %q\n\n%s", args[0], usage)
	return 2
}

// parse parses flags that may stand before, between or after the positional arguments. On -h
// or --help it has printed the usage and returns flag.ErrHelp; exitCode turns that into 0.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// exitCode is the exit code for an error of parse: 0 when help was asked for, 2 for a usage
// error. Either way the flag package has printed the usage.
func exitCode(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}
