package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/flowgate/flowgate/internal/scriptcmd"
)

// The scripts in testdata/script run the real flowctl as an author does: each starts with a
// copy of the example flows in $WORK/flows, makes a mistake in it (replace OLD NEW FILE) and
// checks what flowctl says: the file, line and column, and the fix to try.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"flowctl": func() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)) },
	})
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			paths, err := filepath.Glob("../../flows/*.yaml")
			if err != nil || len(paths) == 0 {
				return err
			}
			if err := os.Mkdir(filepath.Join(env.WorkDir, "flows"), 0o755); err != nil {
				return err
			}
			for _, p := range paths {
				data, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				if err := os.WriteFile(filepath.Join(env.WorkDir, "flows", filepath.Base(p)), data, 0o644); err != nil {
					return err
				}
			}
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"replace": scriptcmd.Replace,
		},
	})
}
