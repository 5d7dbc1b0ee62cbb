// Command bot is Scorebot: a GitOps platform bot that turns Score workloads and a platform
// team's rules repo into a Flux env repo. One binary, several subcommands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `Scorebot turns score.yaml files and a rules repo into a Flux env repo.

Usage:
  bot <command> [flags]

Commands:
  render     render workloads for one environment (files or stdout)
  serve      run the bot: GitHub webhooks in, NATS JetStream, workers
  dev        the whole loop on one machine: bot, local git host, GitHub stand-in
  promote    open a promotion PR for an app to an environment
  bootstrap  write the Flux objects that make a cluster follow one environment

Run "bot <command> -h" (or "bot help <command>") for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	commands := map[string]func(context.Context, []string, io.Writer, io.Writer) error{
		"render":    runRender,
		"serve":     runServe,
		"dev":       runDev,
		"promote":   runPromote,
		"bootstrap": runBootstrap,
	}
	name := args[0]
	if name == "help" && len(args) > 1 {
		// "bot help render" is "bot render -h", printed to stdout.
		if cmd, ok := commands[args[1]]; ok {
			_ = cmd(ctx, []string{"-h"}, stdout, stdout)
			return 0
		}
		fmt.Fprintf(stderr, "bot help: unknown command %q\n\n%s", args[1], usage)
		return 2
	}
	if name == "-h" || name == "--help" || name == "help" {
		fmt.Fprint(stdout, usage)
		return 0
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "bot: unknown command %q\n\n%s", name, usage)
		return 2
	}
	err := cmd(ctx, args[1:], stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		fmt.Fprintf(stderr, "bot %s: %v\n", name, err)
		return 1
	}
}

// errUsage marks an error already reported as a usage message.
var errUsage = errors.New("usage")

// parseFlags parses a command's flags: -h gives flag.ErrHelp (exit 0), a bad flag errUsage
// (the flag package has already printed what is wrong and the usage).
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return err
	}
	return errUsage
}
