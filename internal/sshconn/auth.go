package sshconn

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/crypto/ssh"
)

// loadSigner reads the private key from the config. passphrase is the hook
// for encrypted keys: Dial passes nil until Config grows a passphrase
// setting, and then only this function needs to change.
func loadSigner(cfg Config, passphrase []byte) (ssh.Signer, string, error) {
	var (
		pemBytes []byte
		source   string // names the setting in errors, never the content
	)
	switch {
	case cfg.PrivateKey != "" && cfg.PrivateKeyFile != "":
		return nil, "", errors.New("ssh: both private_key and private_key_file are set: keep one")
	case cfg.PrivateKey != "":
		pemBytes, source = []byte(cfg.PrivateKey), "private_key"
	case cfg.PrivateKeyFile != "":
		b, err := os.ReadFile(cfg.PrivateKeyFile)
		if err != nil {
			return nil, "", fmt.Errorf("ssh: read private_key_file: %w", err)
		}
		pemBytes, source = b, "private_key_file "+cfg.PrivateKeyFile
	default:
		return nil, "", errors.New("no authentication method: set private_key or private_key_file")
	}

	var (
		signer ssh.Signer
		err    error
	)
	if passphrase != nil {
		signer, err = ssh.ParsePrivateKeyWithPassphrase(pemBytes, passphrase)
	} else {
		signer, err = ssh.ParsePrivateKey(pemBytes)
	}
	if err != nil {
		var missing *ssh.PassphraseMissingError
		switch {
		case errors.As(err, &missing):
			return nil, "", fmt.Errorf("ssh: the private key in %s is encrypted with a passphrase; passphrase-protected keys are not supported yet: use an unencrypted key (ssh-keygen -p -N '' -f COPY removes the passphrase from a copy)", source)
		case strings.HasPrefix(strings.TrimSpace(string(pemBytes)), "ssh-"):
			return nil, "", fmt.Errorf("ssh: %s holds a public key; it needs the private key (the file without .pub)", source)
		default:
			// ParsePrivateKey's errors describe the format, not the content.
			return nil, "", fmt.Errorf("ssh: parse %s: %w: it must be a private key in OpenSSH or PEM format", source, err)
		}
	}
	return signer, source, nil
}

// keyDescription identifies a key in errors by type and fingerprint only.
func keyDescription(k ssh.PublicKey) string {
	return k.Type() + " " + ssh.FingerprintSHA256(k)
}
