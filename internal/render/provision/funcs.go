package provision

import (
	"fmt"
	"regexp"
	"text/template"
)

// Some sprig functions cannot be used as they are: the random ones (rendering must be
// deterministic) and the regular expression ones (they compile the expression on every call,
// which dominated provisioning score-k8s's route provisioner). A template that calls one is
// executed as a clone, made once per Provision call, whose overridden functions come from
// the executor: seeded random functions and regular expressions compiled once per call.

func isOverridden(name string) bool { return isRandomFunc(name) || isRegexFunc(name) }

func isRegexFunc(name string) bool {
	switch name {
	case "regexMatch", "mustRegexMatch", "regexFind", "mustRegexFind", "regexFindAll", "mustRegexFindAll",
		"regexReplaceAll", "mustRegexReplaceAll", "regexReplaceAllLiteral", "mustRegexReplaceAllLiteral",
		"regexSplit", "mustRegexSplit":
		return true
	}
	return false
}

// regexCache compiles each expression once.
type regexCache map[string]*regexp.Regexp

func (c regexCache) get(expr string) (*regexp.Regexp, error) {
	if re, ok := c[expr]; ok {
		return re, nil
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("invalid regular expression %q: %w", expr, err)
	}
	c[expr] = re
	return re, nil
}

// regexFuncs returns the regular expression functions with sprig's signatures. Where sprig
// panics on an invalid expression, these return the error (the template fails either way).
func (c regexCache) funcs() template.FuncMap {
	match := func(expr, s string) (bool, error) {
		re, err := c.get(expr)
		if err != nil {
			return false, err
		}
		return re.MatchString(s), nil
	}
	find := func(expr, s string) (string, error) {
		re, err := c.get(expr)
		if err != nil {
			return "", err
		}
		return re.FindString(s), nil
	}
	findAll := func(expr, s string, n int) ([]string, error) {
		re, err := c.get(expr)
		if err != nil {
			return []string{}, err
		}
		return re.FindAllString(s, n), nil
	}
	replaceAll := func(expr, s, repl string) (string, error) {
		re, err := c.get(expr)
		if err != nil {
			return "", err
		}
		return re.ReplaceAllString(s, repl), nil
	}
	replaceAllLiteral := func(expr, s, repl string) (string, error) {
		re, err := c.get(expr)
		if err != nil {
			return "", err
		}
		return re.ReplaceAllLiteralString(s, repl), nil
	}
	split := func(expr, s string, n int) ([]string, error) {
		re, err := c.get(expr)
		if err != nil {
			return []string{}, err
		}
		return re.Split(s, n), nil
	}
	return template.FuncMap{
		// sprig's regexMatch answers false for an invalid expression.
		"regexMatch": func(expr, s string) bool {
			ok, _ := match(expr, s)
			return ok
		},
		"mustRegexMatch":             match,
		"regexFind":                  find,
		"mustRegexFind":              find,
		"regexFindAll":               findAll,
		"mustRegexFindAll":           findAll,
		"regexReplaceAll":            replaceAll,
		"mustRegexReplaceAll":        replaceAll,
		"regexReplaceAllLiteral":     replaceAllLiteral,
		"mustRegexReplaceAllLiteral": replaceAllLiteral,
		"regexSplit":                 split,
		"mustRegexSplit":             split,
	}
}
