package sshconn

import "fmt"

// CheckSettings checks, without connecting, what Dial checks before it
// connects, for cfg and each of its jump hosts: the private key or key
// file readable and a private key, the passphrase right, the certificate
// the key's, the host key policy usable. It fails with the error Dial
// would fail with, so that a caller (a plan) can report a mistake in the
// settings before anything is tried.
func CheckSettings(cfg Config) error {
	c, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	for h := &c; h != nil; h = h.Bastion {
		if _, err := prepareHop(*h); err != nil {
			if h != &c {
				return fmt.Errorf("ssh: bastion %s: %w", h.display(), trimSSH(err))
			}
			return err
		}
	}
	return nil
}
