package store

import "context"

// AddressKeyLen is the length of the address keys a store generates.
const AddressKeyLen = 32

// Settings keeps what every process of one deployment must share. Both
// stores implement it.
type Settings interface {
	// AddressKey returns the deployment's secret key for shipping
	// addresses (event.AddressKey), storing candidate (at least
	// AddressKeyLen random bytes) first when none is stored: the first
	// process to ask sets it, every later one, and every process racing
	// it, reads the same key.
	AddressKey(ctx context.Context, candidate []byte) ([]byte, error)
}
