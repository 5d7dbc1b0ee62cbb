package main

import (
	"context"
	"errors"
	"io"
)

// runRender is not built yet; its owner replaces this file.
func runRender(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("not implemented yet")
}
