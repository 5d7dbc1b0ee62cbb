package envrepo

import (
	"bytes"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"golang.org/x/crypto/ssh"
)

// ErrSign: the configured signer failed to sign a commit.
var ErrSign = errors.New("commit signing failed")

// GPGSigner signs commits with an OpenPGP entity whose private key is decrypted.
func GPGSigner(e *openpgp.Entity) Signer { return gpgSigner{e} }

type gpgSigner struct{ e *openpgp.Entity }

func (s gpgSigner) Sign(message io.Reader) ([]byte, error) {
	var b bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&b, s.e, message, nil); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// SSHSigner signs commits the way `git -c gpg.format=ssh` does: an SSHSIG signature in the
// "git" namespace over the SHA-512 of the commit, armored. RSA keys sign with rsa-sha2-512.
func SSHSigner(s ssh.Signer) Signer { return sshSigner{s} }

type sshSigner struct{ s ssh.Signer }

const sshsigMagic = "SSHSIG"

func sshString(b *bytes.Buffer, s []byte) {
	_ = binary.Write(b, binary.BigEndian, uint32(len(s)))
	b.Write(s)
}

func (s sshSigner) Sign(message io.Reader) ([]byte, error) {
	h := sha512.New()
	if _, err := io.Copy(h, message); err != nil {
		return nil, err
	}
	var signed bytes.Buffer
	signed.WriteString(sshsigMagic)
	sshString(&signed, []byte("git"))
	sshString(&signed, nil)
	sshString(&signed, []byte("sha512"))
	sshString(&signed, h.Sum(nil))

	var sig *ssh.Signature
	var err error
	if as, ok := s.s.(ssh.AlgorithmSigner); ok && s.s.PublicKey().Type() == ssh.KeyAlgoRSA {
		sig, err = as.SignWithAlgorithm(rand.Reader, signed.Bytes(), ssh.KeyAlgoRSASHA512)
	} else {
		sig, err = s.s.Sign(rand.Reader, signed.Bytes())
	}
	if err != nil {
		return nil, fmt.Errorf("ssh sign: %w", err)
	}
	var blob bytes.Buffer
	blob.WriteString(sshsigMagic)
	_ = binary.Write(&blob, binary.BigEndian, uint32(1))
	sshString(&blob, s.s.PublicKey().Marshal())
	sshString(&blob, []byte("git"))
	sshString(&blob, nil)
	sshString(&blob, []byte("sha512"))
	sshString(&blob, ssh.Marshal(sig))

	enc := base64.StdEncoding.EncodeToString(blob.Bytes())
	var out strings.Builder
	out.WriteString("-----BEGIN SSH SIGNATURE-----\n")
	for len(enc) > 70 {
		out.WriteString(enc[:70] + "\n")
		enc = enc[70:]
	}
	out.WriteString(enc + "\n-----END SSH SIGNATURE-----\n")
	return []byte(out.String()), nil
}
