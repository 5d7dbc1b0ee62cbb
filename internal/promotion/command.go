package promotion

import (
	"fmt"
	"regexp"
)

// Command is a parsed `/scorebot promote <env> [<sha>]` or `/scorebot rollback <env> [<sha>]`.
type Command struct {
	Verb string // KindPromote or KindRollback
	Env  string
	SHA  string // optional: the app commit to promote or roll back to
}

var (
	envRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	shaRE = regexp.MustCompile(`^[0-9a-fA-F]{7,40}$`)
)

// Usage is the help text of the two commands.
const Usage = "`/scorebot promote <env> [<sha>]` opens the promotion PR into <env> now (default: the commit the previous environment runs); " +
	"`/scorebot rollback <env> [<sha>]` opens a PR restoring the app's previous state in <env> (or the state that deployed <sha>)."

// ParseCommand parses the words after `/scorebot`: the verb, then its arguments.
func ParseCommand(words []string) (Command, error) {
	if len(words) == 0 {
		return Command{}, fmt.Errorf("%w: no command: %s", ErrUsage, Usage)
	}
	verb := words[0]
	if verb != KindPromote && verb != KindRollback {
		return Command{}, fmt.Errorf("%w: unknown command %q: %s", ErrUsage, clip(verb), Usage)
	}
	args := words[1:]
	if len(args) < 1 || len(args) > 2 {
		return Command{}, fmt.Errorf("%w: %s takes an environment and optionally a commit sha: %s", ErrUsage, verb, Usage)
	}
	c := Command{Verb: verb, Env: args[0]}
	if !envRE.MatchString(c.Env) {
		return Command{}, fmt.Errorf("%w: %q is not an environment name (a DNS label): %s", ErrUsage, clip(c.Env), Usage)
	}
	if len(args) == 2 {
		c.SHA = args[1]
		if !shaRE.MatchString(c.SHA) {
			return Command{}, fmt.Errorf("%w: %q is not a commit sha (7 to 40 hex digits)", ErrUsage, clip(c.SHA))
		}
	}
	return c, nil
}

// clip keeps user text quoted in a reply short.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
