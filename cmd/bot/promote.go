package main

import (
	"context"
	"errors"
	"io"
)

// runPromote is not built yet; its owner replaces this file.
func runPromote(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("not implemented yet")
}
