// Package statusview turns the bot's promotion records into what a person or a script reads
// to learn what runs where: an HTML page with the environment × app matrix (rows are apps,
// columns environments in the platform's order; each cell the deployed source commit, the
// open promotion into it and the last rejected one) and a JSON document of the same records.
//
// It owns the page's layout and the links to the forge; it is pure: values in, bytes out. It
// must not read NATS or Git, talk to GitHub or run an HTTP server (internal/server serves what
// it writes; internal/pipeline gathers the records). The records hold no secret, and nothing
// else goes into the output.
package statusview

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/scorebot/scorebot/internal/promotion"
)

// Matrix is what the page shows: the records of every app in every environment, the
// environments in the platform's order, and the forge names of the repos commits and pull
// requests belong to.
type Matrix struct {
	// Environments are the environments' names in the platform's order (platform.yaml).
	Environments []string `json:"environments"`
	// EnvRepo is the env repo's "owner/name" on the forge (promotion PRs are its PRs); ""
	// when unknown.
	EnvRepo string `json:"env_repo,omitempty"`
	// RulesRepo is the rules repo's "owner/name" on the forge (rules commits); "" when unknown.
	RulesRepo string `json:"rules_repo,omitempty"`
	// Records are one per app and environment with anything to say.
	Records []promotion.Record `json:"records"`
}

// Links say where commits and pull requests are on the web.
type Links struct {
	// WebURL is the forge's web address, e.g. https://github.com (a commit is
	// WebURL/<owner>/<name>/commit/<sha>, a pull request WebURL/<owner>/<name>/pull/<n>);
	// "" shows commits and pull requests without links.
	WebURL string
}

// Sorted returns m with its records in a stable order: by app, then by the environments'
// order (environments the platform no longer names last, by name). m is not changed.
func (m Matrix) Sorted() Matrix {
	order := envOrder(m)
	out := m
	out.Environments = slices.Clone(m.Environments)
	out.Records = slices.Clone(m.Records)
	slices.SortStableFunc(out.Records, func(a, b promotion.Record) int {
		if c := strings.Compare(a.App, b.App); c != 0 {
			return c
		}
		if c := order[a.Env] - order[b.Env]; c != 0 {
			return c
		}
		return strings.Compare(a.Env, b.Env)
	})
	if out.Records == nil {
		out.Records = []promotion.Record{}
	}
	if out.Environments == nil {
		out.Environments = []string{}
	}
	return out
}

// WriteJSON writes m (records sorted) as indented JSON: the records as they are, with the
// environments' order.
func WriteJSON(w io.Writer, m Matrix) error {
	b, err := json.MarshalIndent(m.Sorted(), "", "  ")
	if err != nil {
		return fmt.Errorf("status JSON: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// WriteHTML writes the page of m: a table with a row per app and a column per environment.
// The page is built whole before anything is written, so a failure writes nothing.
func WriteHTML(w io.Writer, m Matrix, l Links) error {
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, build(m.Sorted(), l)); err != nil {
		return fmt.Errorf("status page: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// envOrder numbers the platform's environments, then the others the records name, by name.
func envOrder(m Matrix) map[string]int {
	order := make(map[string]int, len(m.Environments))
	for i, e := range m.Environments {
		if _, dup := order[e]; !dup {
			order[e] = i
		}
	}
	var extra []string
	for _, r := range m.Records {
		if _, ok := order[r.Env]; !ok && !slices.Contains(extra, r.Env) {
			extra = append(extra, r.Env)
		}
	}
	slices.Sort(extra)
	for i, e := range extra {
		order[e] = len(m.Environments) + i
	}
	return order
}

// columns are the page's environments: the platform's, then any others the records name.
func columns(m Matrix) []string {
	order := envOrder(m)
	cols := make([]string, 0, len(order))
	for e := range order {
		cols = append(cols, e)
	}
	slices.SortFunc(cols, func(a, b string) int { return order[a] - order[b] })
	return cols
}
