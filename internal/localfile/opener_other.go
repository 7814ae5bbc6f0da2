//go:build !unix

package localfile

// Opener opens files as Open does (on Unix by their directory's
// descriptor; here by their paths). The zero Opener is ready.
type Opener struct{}

// Open opens the file at name for reading, as Open does.
func (*Opener) Open(name string) (*File, error) { return Open(name) }

// Close releases nothing here.
func (*Opener) Close() {}
