package main

import (
	"context"
	"errors"
	"io"
)

// runBootstrap is not built yet; its owner replaces this file.
func runBootstrap(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("not implemented yet")
}
