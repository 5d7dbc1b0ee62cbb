package main

import (
	"context"
	"errors"
	"io"
)

// runServe is not built yet; its owner replaces this file.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("not implemented yet")
}
