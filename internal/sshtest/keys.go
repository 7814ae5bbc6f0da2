package sshtest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

// KeyPair is a throwaway ed25519 key in the forms the rig and tests need.
type KeyPair struct {
	// PEM is the private key in OpenSSH format ("-----BEGIN OPENSSH
	// PRIVATE KEY-----"), unencrypted, as ssh-keygen writes it.
	PEM string
	// Signer signs with the private key.
	Signer ssh.Signer
	// Public is the public half.
	Public ssh.PublicKey
	// Authorized is the public key in authorized_keys format, one line,
	// without comment or trailing newline ("ssh-ed25519 AAAA...").
	Authorized string
}

// NewKeyPair generates a fresh ed25519 key pair. ed25519 is used because it
// is fast to generate (no prime search) and every OpenSSH since 6.5 accepts
// it, so the rig starts in milliseconds.
func NewKeyPair() (*KeyPair, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate ed25519 key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		return nil, fmt.Errorf("marshal ed25519 private key: %w", err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, fmt.Errorf("ed25519 signer: %w", err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("ed25519 public key: %w", err)
	}
	return &KeyPair{
		PEM:        string(pem.EncodeToMemory(block)),
		Signer:     signer,
		Public:     sshPub,
		Authorized: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))),
	}, nil
}
