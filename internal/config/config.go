// Package config resolves a command's settings from, in order of precedence, its flags, the
// environment and a YAML config file, over the flags' defaults. It owns only that merge: the
// settings themselves are flags the command defines. It must not read anything but the
// environment and the one config file it is given.
package config

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// EnvName is the environment variable for flag name under prefix:
// EnvName("SCOREBOT", "webhook-secret-file") = "SCOREBOT_WEBHOOK_SECRET_FILE".
func EnvName(prefix, name string) string {
	return prefix + "_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// Apply sets every flag of fs that was not given on the command line from the environment
// variable EnvName(envPrefix, flag) if lookupEnv finds it, else from key <flag name> of the
// YAML file at configFile (when configFile is not ""). Flags named in skip (e.g. "config"
// itself) are left alone. Unknown keys in the file are an error naming the file and key.
func Apply(fs *flag.FlagSet, envPrefix string, lookupEnv func(string) (string, bool), configFile string, skip ...string) error {
	fileValues := map[string]string{}
	if configFile != "" {
		var err error
		if fileValues, err = readFile(configFile); err != nil {
			return err
		}
		var unknown []string
		for k := range fileValues {
			if fs.Lookup(k) == nil || contains(skip, k) {
				unknown = append(unknown, k)
			}
		}
		if len(unknown) > 0 {
			sort.Strings(unknown)
			var known []string
			fs.VisitAll(func(f *flag.Flag) {
				if !contains(skip, f.Name) {
					known = append(known, f.Name)
				}
			})
			return fmt.Errorf("config file %s: unknown key(s) %s; the keys are the flag names: %s",
				configFile, strings.Join(unknown, ", "), strings.Join(known, ", "))
		}
	}
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if explicit[f.Name] || contains(skip, f.Name) {
			return
		}
		env := EnvName(envPrefix, f.Name)
		if v, ok := lookupEnv(env); ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("environment variable %s: %w", env, err))
			}
			return
		}
		if v, ok := fileValues[f.Name]; ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("config file %s: key %s: %w", configFile, f.Name, err))
			}
		}
	})
	return errors.Join(errs...)
}

// readFile reads a flat YAML mapping of flag names to scalar values.
func readFile(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("config file %s: %w (it must be a YAML mapping of flag names to values)", path, err)
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		switch v := v.(type) {
		case string:
			out[k] = v
		case bool, float64, int64, int:
			out[k] = fmt.Sprint(v)
		case nil:
			// "key:" with no value: leave the default.
		default:
			return nil, fmt.Errorf("config file %s: key %s: want a string, number or boolean, got %T", path, k, v)
		}
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
