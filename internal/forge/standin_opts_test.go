package forge_test

import "github.com/scorebot/scorebot/internal/forge/standin"

func standinOpts() standin.Options { return standin.Options{DevUser: "dev"} }
