package main

import (
	"strings"
	"testing"
)

func TestHelp(t *testing.T) {
	cases := []struct {
		args   []string
		code   int
		stdout string // a line the output must hold
		stderr string
	}{
		{[]string{"help"}, 0, "Commands:", ""},
		{[]string{"-h"}, 0, "Commands:", ""},
		{[]string{}, 2, "", "Commands:"},
		{[]string{"help", "render"}, 0, "Usage: bot render --rules DIR", ""},
		{[]string{"help", "dev"}, 0, "bot dev pr open", ""},
		{[]string{"help", "nope"}, 2, "", `bot help: unknown command "nope"`},
		{[]string{"nope"}, 2, "", `bot: unknown command "nope"`},
		{[]string{"dev", "pr", "-h"}, 0, "", "-head BRANCH"},
		{[]string{"dev", "pr"}, 2, "", "bot dev pr: say open, merge or close"},
		{[]string{"dev", "comment", "-h"}, 0, "", "-commit SHA"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, stdout, stderr := runBot(c.args...)
			if code != c.code {
				t.Errorf("exit %d, want %d", code, c.code)
			}
			if !strings.Contains(stdout, c.stdout) {
				t.Errorf("stdout lacks %q:\n%s", c.stdout, stdout)
			}
			if !strings.Contains(stderr, c.stderr) {
				t.Errorf("stderr lacks %q:\n%s", c.stderr, stderr)
			}
		})
	}
}
