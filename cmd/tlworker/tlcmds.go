package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/tlsched/tlsched/cmd/tlworker/internal/cli"
	"github.com/tlsched/tlsched/tl"
)

func methods(args []string, _ io.Reader, stdout, _ io.Writer) error {
	if len(args) > 1 {
		return cli.Usagef("methods takes at most one query, got %q", strings.Join(args, " "))
	}
	var names []string
	if len(args) == 1 {
		for _, m := range tl.Search(args[0], 50) {
			names = append(names, m.Name)
		}
		if len(names) == 0 {
			return fmt.Errorf("no method matches %q", args[0])
		}
	} else {
		for _, d := range tl.Methods() {
			names = append(names, d.Name)
		}
	}
	for _, n := range names {
		d, err := tl.Method(n)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%-45s %s\n", n, firstLine(d.Doc))
	}
	return nil
}

func describe(args []string, _ io.Reader, stdout, _ io.Writer) error {
	if len(args) != 1 {
		return cli.Usagef("describe takes one method name")
	}
	d, err := tl.Describe(args[0])
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, d.String())
	return nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 100 {
		s = s[:97] + "..."
	}
	return s
}
