package preview

import (
	"errors"

	"github.com/scorebot/scorebot/internal/render/provision"
	"github.com/scorebot/scorebot/internal/render/rules"
)

// Problem is why an environment could not be rendered, as the comment shows it instead of
// a diff.
type Problem struct {
	File    string // the Score or rules file at fault, when known
	Line    int    // 1-based, 0 when unknown
	Field   string // the field at fault, when known
	Message string // the whole error message (it names the file, field and fix already)
	Fix     string // how to fix it, when given separately
}

// ProblemOf describes a render error. Errors of the rules repo (rules.FieldError) and of
// templates (provision.TemplateError) give their file, line and field; others keep their
// message, which the render engine writes as "<file>: <what>: <fix>".
func ProblemOf(err error) *Problem {
	if err == nil {
		return nil
	}
	p := &Problem{Message: err.Error()}
	var fe *rules.FieldError
	var te *provision.TemplateError
	switch {
	case errors.As(err, &fe):
		p.File, p.Line, p.Field, p.Fix = fe.File, fe.Line, fe.Field, fe.Fix
	case errors.As(err, &te):
		p.File, p.Field = te.File, te.Field
	}
	return p
}
