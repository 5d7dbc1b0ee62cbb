package envrepo

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"golang.org/x/crypto/ssh"
)

func TestGPGSignedCommit(t *testing.T) {
	entity, err := openpgp.NewEntity("Scorebot", "", "bot@example.test", nil)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, map[string][]byte{"a": []byte("a")})
	r := openRepo(t, e.url, func(c *Config) { c.Signer = GPGSigner(entity) })
	res, err := r.Apply(context.Background(), msg("signed"), Change{Files: map[string][]byte{"b": []byte("b")}})
	if err != nil {
		t.Fatal(err)
	}
	if raw := e.git(t, "cat-file", "commit", res.Commit); !strings.Contains(raw, "gpgsig -----BEGIN PGP SIGNATURE-----") {
		t.Fatalf("no signature in commit:\n%s", raw)
	}
	var pub bytes.Buffer
	w, _ := armor.Encode(&pub, openpgp.PublicKeyType, nil)
	if err := entity.Serialize(w); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	c, err := object.GetCommit(r.store, plumbing.NewHash(res.Commit))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Verify(pub.String()); err != nil {
		t.Fatalf("verify: %v", err)
	}
}

func TestSSHSignedCommitVerifiesWithGit(t *testing.T) {
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Skip("ssh-keygen not installed")
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(key)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, map[string][]byte{"a": []byte("a")})
	r := openRepo(t, e.url, func(c *Config) {
		c.Signer = SSHSigner(signer)
		c.Committer = Identity{"Scorebot", "bot@example.test"}
	})
	res, err := r.Apply(context.Background(), msg("signed"), Change{Files: map[string][]byte{"b": []byte("b")}})
	if err != nil {
		t.Fatal(err)
	}
	allowed := filepath.Join(t.TempDir(), "allowed_signers")
	line := "bot@example.test " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))) + "\n"
	if err := os.WriteFile(allowed, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	out := e.git(t, "-c", "gpg.format=ssh", "-c", "gpg.ssh.allowedSignersFile="+allowed, "verify-commit", "-v", res.Commit)
	if !strings.Contains(out, `Good "git" signature for bot@example.test`) {
		t.Fatalf("verify-commit: %s", out)
	}
}
