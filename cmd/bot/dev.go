package main

import (
	"context"
	"errors"
	"io"
)

// runDev is not built yet; its owner replaces this file.
func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("not implemented yet")
}
