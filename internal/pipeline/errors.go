package pipeline

import (
	"errors"
	"text/template"

	"github.com/scorebot/scorebot/internal/envrepo"
	"github.com/scorebot/scorebot/internal/forge"
	"github.com/scorebot/scorebot/internal/gitcache"
	"github.com/scorebot/scorebot/internal/render"
	"github.com/scorebot/scorebot/internal/render/convert"
	"github.com/scorebot/scorebot/internal/render/envtree"
	"github.com/scorebot/scorebot/internal/render/manifest"
	"github.com/scorebot/scorebot/internal/render/provision"
	"github.com/scorebot/scorebot/internal/render/rules"
)

// Exported errors, for errors.Is.
var (
	// ErrPermanent marks a failure that retrying cannot fix (an invalid Score file, no
	// matching definition, a template error, a plaintext Secret, invalid rules): the event is
	// reported, dead-lettered and terminated.
	ErrPermanent = errors.New("permanent failure")
	// ErrNoScoreFiles: the app commit has no file matching the rules' score-file globs.
	ErrNoScoreFiles = errors.New("no Score files")
	// errBusy: another job holds the repo's lease; try again shortly.
	errBusy = errors.New("repo is being worked on by another job")
)

// Permanent marks err as permanent (handlers registered with Config.Handlers use it too).
func Permanent(err error) error {
	if err == nil || errors.Is(err, ErrPermanent) {
		return err
	}
	return permanentError{err}
}

type permanentError struct{ err error }

func (e permanentError) Error() string   { return e.err.Error() }
func (e permanentError) Unwrap() []error { return []error{e.err, ErrPermanent} }

// transient documents that err is worth retrying (the default for anything not permanent).
func transient(err error) error { return err }

// permanentCauses are the sentinels of inputs that stay wrong however often they are read.
var permanentCauses = []error{
	render.ErrInvalidScore, render.ErrInput,
	rules.ErrInvalid, rules.ErrNoMatch, rules.ErrAmbiguous, rules.ErrUnsupported,
	manifest.ErrPlaintextSecret, manifest.ErrStrict, manifest.ErrIncomplete,
	provision.ErrCycle, provision.ErrConflict, provision.ErrSecretOutput,
	convert.ErrInvalid, envtree.ErrInvalid,
	envrepo.ErrInvalidPath, gitcache.ErrInvalidSource, ErrNoScoreFiles,
	forge.ErrValidation,
}

// IsPermanent reports whether err should not be retried.
func IsPermanent(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrPermanent) {
		return true
	}
	for _, c := range permanentCauses {
		if errors.Is(err, c) {
			return true
		}
	}
	var execErr template.ExecError
	return errors.As(err, &execErr)
}
